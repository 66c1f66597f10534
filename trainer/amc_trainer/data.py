"""The data API in one import, for code outside the trainer package (kept so their imports keep working).

Nothing is defined here. Each job has its own module:
    annotation_files.py  DataError (names the file and the entry), safe JSON loading, box checks
    masks.py             box clamping and the 256×256 box mask (docs/reference.md §2)
    images.py            safe image loading, CLIP_MEAN/CLIP_STD, load_eval_image, ToGray and colour jitter
    train_data.py        training readers, GroundingTrainSet (augmentations, preflight), collate
    eval_formats.py      the six evaluation formats -> EvalQuery (docs/reference.md §4, §5)
    safe_pickle.py       the code-free unpickler for refs(unc).p and the Python-2 pickle writer
`from amc_trainer.data import load_eval_image` (bench/explain, trainer/scripts, test/unit/model/image.test.ts)
and evaluate.py's `from .data import read_eval_queries / load_eval_image` go through this file; code inside the
package imports from the module that defines a name.
"""
from .annotation_files import DataError, load_json
from .eval_formats import (EvalQuery, detect_format, load_refs_pickle, parse_flickr_annotation, parse_flickr_sentences,
                           read_eval_queries, split_from_name)
from .images import (CLIP_MEAN, CLIP_STD, DEFAULT_MAX_IMAGE_BYTES, color_jitter, decoded_image_size,
                     image_file_problem, load_eval_image, normalize, open_rgb, pil_to_tensor, to_gray)
from .masks import MASK_SIZE, box_mask, clamp_box, draw_box, opencv_nearest_indices, settle_box
from .train_data import (GroundingTrainSet, SampleProblem, TrainEntry, box_problem, collate, detect_train_format,
                         read_train_entries, swap_left_right, top_level_element_lines)

__all__ = [
    "DataError", "load_json",
    "EvalQuery", "detect_format", "load_refs_pickle", "parse_flickr_annotation", "parse_flickr_sentences",
    "read_eval_queries", "split_from_name",
    "CLIP_MEAN", "CLIP_STD", "DEFAULT_MAX_IMAGE_BYTES", "color_jitter", "decoded_image_size", "image_file_problem",
    "load_eval_image", "normalize", "open_rgb", "pil_to_tensor", "to_gray",
    "MASK_SIZE", "box_mask", "clamp_box", "draw_box", "opencv_nearest_indices", "settle_box",
    "GroundingTrainSet", "SampleProblem", "TrainEntry", "box_problem", "collate", "detect_train_format",
    "read_train_entries", "swap_left_right", "top_level_element_lines",
]
