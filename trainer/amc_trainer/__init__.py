"""AMC trainer: ALBEF-architecture model, AMC loss, data readers, training (DDP), evaluation and ONNX export.

Run as `python -m amc_trainer <synth|train|eval|export> ...` from the `trainer/` folder.
"""
__version__ = "0.1.0"
