#!/usr/bin/python3
"""Write the Flickr30k Entities and RefCOCO fixtures under test/fixtures/datasets/{flickr,refcoco}/.

Run with /usr/bin/python3 (Pillow, and torch for the trainer's modules): `/usr/bin/python3 scripts/gen-dataset-fixtures.py`.
`--big-refs DIR` instead writes a RefCOCO+-sized refs(unc).p + instances.json to DIR for measuring the reader.
The output is committed; the TypeScript tests read it. Every file follows the real public schema
(docs/reference.md §5.2-§5.4) with its quirks, and the expected values next to the data are computed here by the
reference logic (info-ground's flickr30k_entities_utils.py, AMC's grounding datasets, ALBEF's
pre_caption, Python's own unpickler), not by the code under test. ALBEF's pre_caption and info-ground's
sentence parser come from the trainer's ports of them (amc_trainer.tokenizer, amc_trainer.eval_formats).

Pickles: Python 2 wrote `str` as STRING / BINSTRING / SHORT_BINSTRING (bytes); Python 3 cannot produce
those for `bytes` (it emits GLOBAL _codecs.encode), so `Py2Pickler` emits them itself, the way
Python 2.7's pickle.py did, and the expected values come from `pickle.loads(data, encoding='latin1')`.
"""
import io
import json
import math
import os
import pickle
import shutil
import struct
import sys
import xml.etree.ElementTree as ET

from PIL import Image

# ALBEF's pre_caption and info-ground's sentence parser, as the trainer ports them (one copy in the repository).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'trainer'))
from amc_trainer.eval_formats import parse_flickr_sentences  # noqa: E402
from amc_trainer.tokenizer import pre_caption  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'datasets')
FLICKR = os.path.join(ROOT, 'flickr')
REFCOCO = os.path.join(ROOT, 'refcoco')


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = 'wb' if isinstance(data, bytes) else 'w'
    with open(path, mode, **({} if mode == 'wb' else {'encoding': 'utf-8', 'newline': ''})) as f:
        f.write(data)


def write_json(path, obj, indent=None):
    write(path, json.dumps(obj, indent=indent, ensure_ascii=False) + '\n')


def tiny_jpeg(path, size=(8, 6)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new('RGB', size, (200, 40, 40)).save(path, 'JPEG', quality=50)


# --------------------------------------------------------------------------------------------------
# Flickr30k Entities raw (docs/reference.md §5.4)

FLICKR_SENTENCES = {
    # Several <name> per object (1 and 6 share both people boxes), a phrase with two boxes (union),
    # EN#0 notvisual, a scene-only phrase (5), a nobndbox phrase (4), punctuation for pre_caption.
    '1000092795': (
        "[/EN#1/people Two young guys] with [/EN#2/bodyparts shaggy hair] look at [/EN#3/bodyparts their hands] while hanging out in [/EN#5/scene the yard] .\n"
        "[/EN#1/people Two young , White males] are outside near [/EN#4/other many bushes] .\n"
        "[/EN#6/people Two men] in [/EN#7/clothing green shirts] are standing in [/EN#5/scene a yard] .\n"
        "[/EN#6/people A man] in [/EN#8/clothing a blue shirt] standing in [/EN#5/scene a garden] .\n"
        "[/EN#1/people Two friends] enjoy [/EN#0/notvisual time] spent together .\n"
    ),
    # CRLF line endings, a phrase with two types, a one-word phrase, a phrase id no object names (9),
    # an object with <nobndbox>1 and <scene>1 (both flags), hyphen and slash for pre_caption.
    '10002456': (
        "[/EN#132/people Several men] in [/EN#133/clothing/other hard-hats] are operating [/EN#134/other a giant pulley system] .\r\n"
        "[/EN#132/people Workers] look down from up above on [/EN#134/other a piece of equipment] .\r\n"
        "[/EN#132/people Two men] working on [/EN#136/other a machine/crane] wearing [/EN#133/clothing hard hats] .\r\n"
        "[/EN#132/people Four men] on top of [/EN#137/other a tall structure] near [/EN#9/other the sky] .\r\n"
        "[/EN#132/people Three men] on [/EN#138/scene a large rig] .\r\n"
    ),
    '1007129816': (
        "[/EN#10/people The man] with [/EN#11/bodyparts pierced ears] is wearing [/EN#12/clothing glasses] and [/EN#13/clothing an orange hat] .\n"
    ),
}

# (names, bndbox 1-based xmin ymin xmax ymax | None, nobndbox, scene)
FLICKR_OBJECTS = {
    '1000092795': ((500, 333), [
        (['1', '6'], (51, 61, 211, 331), None, None),
        (['1', '6'], (301, 21, 381, 91), None, None),
        (['2'], (80, 62, 150, 110), None, None),
        (['3'], (120, 200, 190, 260), None, None),
        (['5'], None, 0, 1),
        (['4'], None, 1, 0),
        (['7'], (60, 120, 200, 250), None, None),
        (['8'], (310, 40, 380, 90), None, None),
    ]),
    '10002456': ((333, 500), [
        (['132'], (1, 100, 80, 300), None, None),
        (['132'], (90, 110, 160, 310), None, None),
        (['132'], (170, 95, 240, 305), None, None),
        (['133'], (20, 100, 60, 130), None, None),
        (['133'], (100, 108, 140, 135), None, None),
        (['134', '136'], (5, 5, 333, 250), None, None),
        (['137'], (0 + 1, 0 + 1, 333, 500), None, None),
        (['138'], None, 1, 1),
    ]),
    '1007129816': ((500, 375), [
        (['10'], (100, 30, 400, 375), None, None),
        (['11'], (150, 100, 170, 140), None, None),
        (['12'], (190, 90, 300, 130), None, None),
        (['13'], (170, 25, 330, 95), None, None),
    ]),
}

FLICKR_SPLITS = {'val': ['1000092795', '10002456'], 'test': ['1007129816']}


def flickr_xml(image_id, size, objects):
    lines = ['<annotation>', f'\t<filename>{image_id}.jpg</filename>', '\t<size>',
             f'\t\t<width>{size[0]}</width>', f'\t\t<height>{size[1]}</height>', '\t\t<depth>3</depth>', '\t</size>']
    for names, box, nobndbox, scene in objects:
        lines.append('\t<object>')
        lines += [f'\t\t<name>{n}</name>' for n in names]
        if box is not None:
            lines += ['\t\t<bndbox>'] + [f'\t\t\t<{k}>{v}</{k}>' for k, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), box)] + ['\t\t</bndbox>']
        else:
            lines += [f'\t\t<nobndbox>{nobndbox}</nobndbox>', f'\t\t<scene>{scene}</scene>']
        lines.append('\t</object>')
    lines.append('</annotation>')
    return '\n'.join(lines) + '\n'


# info-ground data/flickr/flickr30k_entities_utils.py (IG commit 22ae6d6) get_sentence_data, as it reads the raw
# files: the trainer's port of it (parse_flickr_sentences, which also names a malformed line instead of guessing).
def get_sentence_data(fn):
    with open(fn, 'r') as f:
        return parse_flickr_sentences(f.read(), fn)


def get_annotations(fn):
    tree = ET.parse(fn)
    root = tree.getroot()
    size_container = root.findall('size')[0]
    anno_info = {'boxes': {}, 'scene': [], 'nobox': []}
    for size_element in size_container:
        anno_info[size_element.tag] = int(size_element.text)
    for object_container in root.findall('object'):
        for names in object_container.findall('name'):
            box_id = names.text
            box_container = object_container.findall('bndbox')
            if len(box_container) > 0:
                if box_id not in anno_info['boxes']:
                    anno_info['boxes'][box_id] = []
                xmin = int(box_container[0].findall('xmin')[0].text) - 1
                ymin = int(box_container[0].findall('ymin')[0].text) - 1
                xmax = int(box_container[0].findall('xmax')[0].text) - 1
                ymax = int(box_container[0].findall('ymax')[0].text) - 1
                anno_info['boxes'][box_id].append([xmin, ymin, xmax, ymax])
            else:
                nobndbox = int(object_container.findall('nobndbox')[0].text)
                if nobndbox > 0:
                    anno_info['nobox'].append(box_id)
                scene = int(object_container.findall('scene')[0].text)
                if scene > 0:
                    anno_info['scene'].append(box_id)
    return anno_info


def gen_flickr():
    shutil.rmtree(FLICKR, ignore_errors=True)
    ent = os.path.join(FLICKR, 'flickr30k_entities')
    for image_id, text in FLICKR_SENTENCES.items():
        write(os.path.join(ent, 'Sentences', f'{image_id}.txt'), text)
        size, objects = FLICKR_OBJECTS[image_id]
        write(os.path.join(ent, 'Annotations', f'{image_id}.xml'), flickr_xml(image_id, size, objects))
    for split, ids in FLICKR_SPLITS.items():
        write(os.path.join(ent, f'{split}.txt'), '\n'.join(ids) + '\n')
    tiny_jpeg(os.path.join(FLICKR, 'flickr30k-images', '1000092795.jpg'))

    # info-ground write_annos_to_json: the JSON pair, from the raw files by IG's own functions.
    ig = os.path.join(FLICKR, 'infoground')
    for split, ids in FLICKR_SPLITS.items():
        boxes, sentences = {}, {}
        for image_id in ids:
            boxes[image_id] = get_annotations(os.path.join(ent, 'Annotations', f'{image_id}.xml'))
            sentences[image_id] = get_sentence_data(os.path.join(ent, 'Sentences', f'{image_id}.txt'))
        write_json(os.path.join(ig, f'bounding_boxes_{split}.json'), boxes)
        write_json(os.path.join(ig, f'sentences_{split}.json'), sentences)

        # AMC's Flickr grounding dataset: one query per phrase whose phrase_id is in boxes (docs/reference.md §4.3).
        queries = []
        for image_id in ids:
            for s_index, sent in enumerate(sentences[image_id]):
                for phrase in sent['phrases']:
                    if phrase['phrase_id'] in boxes[image_id]['boxes']:
                        queries.append({'image_id': image_id, 'sentence': s_index, 'phrase_id': phrase['phrase_id'],
                                        'phrase': phrase['phrase'], 'caption': pre_caption(phrase['phrase'], 50),
                                        'boxes': boxes[image_id]['boxes'][phrase['phrase_id']],
                                        'width': boxes[image_id]['width'], 'height': boxes[image_id]['height']})
        write_json(os.path.join(FLICKR, f'expected_queries_{split}.json'), queries, indent=1)


# --------------------------------------------------------------------------------------------------
# Pickles as Python 2 wrote them

class Py2Str(bytes):
    """A Python 2 `str` (bytes): pickled with STRING / BINSTRING / SHORT_BINSTRING."""


def py2_repr(b):
    """Python 2.7 repr() of a str, which protocol 0's STRING opcode writes."""
    quote = '"' if (b"'" in b and b'"' not in b) else "'"
    out = [quote]
    for c in b:
        ch = chr(c)
        if ch == quote or ch == '\\':
            out.append('\\' + ch)
        elif ch == '\t':
            out.append('\\t')
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\r':
            out.append('\\r')
        elif c < 32 or c >= 127:
            out.append('\\x%02x' % c)
        else:
            out.append(ch)
    out.append(quote)
    return ''.join(out).encode('ascii')


class Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        data = bytes(obj)
        if self.proto == 0:
            self.write(b'S' + py2_repr(data) + b'\n')
        elif len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)
        self.memoize(obj)

    dispatch[Py2Str] = save_py2str


def py2_dumps(obj, protocol):
    f = io.BytesIO()
    Py2Pickler(f, protocol).dump(obj)
    return f.getvalue()


def tagged(v):
    """The JSON form the TypeScript test builds from a parsed pickle (keeps key types, ints, NaN)."""
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {'$int': str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {'$float': 'nan'}
        if math.isinf(v):
            return {'$float': 'inf' if v > 0 else '-inf'}
        if v == 0 and math.copysign(1, v) < 0:
            return {'$float': '-0'}
        return v
    if isinstance(v, (bytes, bytearray)):
        return {'$bytes': bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [tagged(x) for x in v]
    if isinstance(v, dict):
        return {'$dict': [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)):
        return {'$set': sorted(tagged(x) for x in v)}
    raise TypeError(type(v))


def plain_object():
    shared = ['shared', 1]
    return {
        'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**64 + 1, -2**70],
        'floats': [0.0, -0.0, 1.5, -2.25, 1e-300, 1e300, 3.141592653589793, 0.1, float('nan'), float('inf'), float('-inf')],
        'strs': ['', 'ascii', 'café', '日本語', 'emoji 😀', 'line\nbreak', 'back\\slash \\u0041', "quote'\"", '\x00nul', '\r\x1a'],
        'consts': [True, False, None],
        'tuples': [(), (1,), (1, 'two'), (1, 'two', 3.0), (1, 2, 3, 4)],
        'nested': {'a': [{'b': []}], 1: 'int key', (1, 2): 'tuple key', 2**40: 'long key'},
        'shared twice': [shared, shared],
        'long list': list(range(1001)),               # APPENDS comes in batches of 1000
        'big dict': {str(i): i for i in range(1001)},  # SETITEMS too
    }


def py2_object():
    return [{
        Py2Str(b'sent'): Py2Str(b'caf\xe9 au lait'),        # latin-1 byte string → 'café au lait'
        Py2Str(b'raw'): 'Café ☕ “quoted”',                     # unicode
        Py2Str(b'escapes'): Py2Str(b"it's \"both\"\n\t\\ \x00\x7f\xff"),
        Py2Str(b'only single'): Py2Str(b"it's"),
        Py2Str(b'long'): Py2Str(b'x' * 300),                  # BINSTRING (> 255 bytes)
        Py2Str(b'big'): 2**40,
        Py2Str(b'neg'): -7,
        Py2Str(b'flag'): True,
        Py2Str(b'f'): 0.25,
        Py2Str(b'tokens'): [Py2Str(b'caf\xe9'), Py2Str(b'au'), Py2Str(b'lait')],
    }]


def gen_pickles():
    out = os.path.join(REFCOCO, 'pickle')
    shutil.rmtree(out, ignore_errors=True)
    expected = {}
    obj = plain_object()
    expected['plain'] = tagged(obj)
    for proto in range(0, 6):
        data = pickle.dumps(obj, protocol=proto)
        assert tagged(pickle.loads(data)) == expected['plain'], proto
        write(os.path.join(out, f'plain_proto{proto}.p'), data)
    # set members are ints: str hashes, and so the pickled order of a str set, change from run to run
    sets = {'set': {3, 1, 2}, 'frozen': frozenset([10, 20]), 'bytes': b'\x00\xffab', 'bytearray': bytearray(b'xy')}
    data = pickle.dumps(sets, protocol=5)
    write(os.path.join(out, 'sets_bytes_proto5.p'), data)
    expected['sets_bytes_proto5.p'] = tagged(pickle.loads(data))
    for proto in range(0, 3):
        name = f'py2str_proto{proto}.p'
        data = py2_dumps(py2_object(), proto)
        write(os.path.join(out, name), data)
        expected[name] = tagged(pickle.loads(data, encoding='latin1'))
    write_json(os.path.join(out, 'expected.json'), expected)

    # Pickles that would run code. Never loaded here; the TS parser must refuse them.
    class RunsCommand:
        def __reduce__(self):
            return (os.system, ('touch /tmp/amc-pickle-fixture-was-executed',))

    write(os.path.join(out, 'malicious_os_system_proto0.p'), pickle.dumps([{'ref_id': 1}, RunsCommand()], protocol=0))
    write(os.path.join(out, 'malicious_os_system_proto2.p'), pickle.dumps([{'ref_id': 1}, RunsCommand()], protocol=2))
    write(os.path.join(out, 'malicious_os_system_proto4.p'), pickle.dumps(RunsCommand(), protocol=4))  # STACK_GLOBAL
    # What Python 3 writes for `bytes` below protocol 3: a call to _codecs.encode, also refused.
    write(os.path.join(out, 'py3_bytes_proto2.p'), pickle.dumps({'b': b'abc'}, protocol=2))


# --------------------------------------------------------------------------------------------------
# RefCOCO+ (REFER refs(unc).p + instances.json, ALBEF JSON)

def S(text):
    return Py2Str(text.encode('latin-1'))


def sentence(sent_id, raw, sent=None, unicode_raw=False):
    sent = sent if sent is not None else pre_caption(raw, 1000)
    tokens = [S(t) for t in sent.split(' ')] if all(ord(c) < 256 for c in sent) else sent.split(' ')
    return {S('tokens'): tokens, S('raw'): raw if unicode_raw else S(raw), S('sent_id'): sent_id,
            S('sent'): sent if unicode_raw else S(sent)}


def ref(ref_id, ann_id, image_id, split, category_id, sentences):
    # REFER keeps the ref's file_name with the annotation id as a suffix: not a file on disk.
    return {S('sent_ids'): [s[S('sent_id')] for s in sentences],
            S('file_name'): S('COCO_train2014_%012d_%d.jpg' % (image_id, ann_id)),
            S('ann_id'): ann_id, S('ref_id'): ref_id, S('image_id'): image_id, S('split'): S(split),
            S('sentences'): sentences, S('category_id'): category_id}


REFS = [
    ref(10, 1001, 139, 'val', 1, [sentence(100, 'Man in red shirt.'),
                                  sentence(101, 'Guy on the left, café', unicode_raw=True)]),
    ref(11, 1002, 139, 'testA', 1, [sentence(102, 'woman with caf\xe9-style hat', 'woman with caf\xe9 style hat')]),
    ref(12, 1003, 285, 'testB', 62, [sentence(103, 'Chair closest to us'), sentence(104, 'brown chair'),
                                     sentence(105, 'the chair/stool on the right')]),
    ref(13, 2001, 632, 'train', 18, [sentence(106, 'dog')]),
]

INSTANCES = {
    'info': {'description': 'This is stable 1.0 version of the 2014 MS COCO dataset.', 'version': '1.0', 'year': 2014},
    'images': [
        {'license': 3, 'file_name': 'COCO_train2014_000000000139.jpg', 'coco_url': '', 'height': 426, 'width': 640,
         'date_captured': '2013-11-21 01:34:01', 'flickr_url': '', 'id': 139},
        {'license': 4, 'file_name': 'COCO_train2014_000000000285.jpg', 'coco_url': '', 'height': 640, 'width': 586,
         'date_captured': '2013-11-18 13:09:47', 'flickr_url': '', 'id': 285},
        {'license': 1, 'file_name': 'COCO_train2014_000000000632.jpg', 'coco_url': '', 'height': 483, 'width': 640,
         'date_captured': '2013-11-20 21:14:01', 'flickr_url': '', 'id': 632},
    ],
    'annotations': [
        {'segmentation': [[412.8, 157.61, 465.85, 157.61, 465.85, 295.62, 412.8, 295.62]], 'area': 7321.3,
         'iscrowd': 0, 'image_id': 139, 'bbox': [412.8, 157.61, 53.05, 138.01], 'category_id': 1, 'id': 1001},
        {'segmentation': [[384.43, 172.21, 399.55, 172.21, 399.55, 207.95, 384.43, 207.95]], 'area': 540.4,
         'iscrowd': 0, 'image_id': 139, 'bbox': [384.43, 172.21, 15.12, 35.74], 'category_id': 1, 'id': 1002},
        {'segmentation': [[13.0, 22.75, 548.98, 22.75, 548.98, 632.42, 13.0, 632.42]], 'area': 326672.3,
         'iscrowd': 0, 'image_id': 285, 'bbox': [13.0, 22.75, 535.98, 609.67], 'category_id': 62, 'id': 1003},
        {'segmentation': [[1.08, 187.69, 612.67, 187.69, 612.67, 473.53, 1.08, 473.53]], 'area': 120057.1,
         'iscrowd': 0, 'image_id': 632, 'bbox': [1.08, 187.69, 611.59, 285.84], 'category_id': 18, 'id': 2001},
    ],
    'categories': [{'supercategory': 'person', 'id': 1, 'name': 'person'},
                   {'supercategory': 'animal', 'id': 18, 'name': 'dog'},
                   {'supercategory': 'furniture', 'id': 62, 'name': 'chair'}],
}


def gen_refcoco():
    for sub in ('refcoco+', 'albef', 'images'):
        shutil.rmtree(os.path.join(REFCOCO, sub), ignore_errors=True)
    for f in ('refcoco+_val.json', 'expected_refs.json', 'expected_albef.json'):
        if os.path.exists(os.path.join(REFCOCO, f)):
            os.remove(os.path.join(REFCOCO, f))
    refs_path = os.path.join(REFCOCO, 'refcoco+', 'refs(unc).p')
    write(refs_path, py2_dumps(REFS, 2))
    write(os.path.join(REFCOCO, 'pickle', 'refs_proto0.p'), py2_dumps(REFS, 0))
    write_json(os.path.join(REFCOCO, 'refcoco+', 'instances.json'), INSTANCES)
    tiny_jpeg(os.path.join(REFCOCO, 'images', 'train2014', 'COCO_train2014_000000000139.jpg'))

    # What the refer API + the evaluation read (docs/reference.md §4.2), from Python's own unpickler with latin1.
    with open(refs_path, 'rb') as f:
        refs = pickle.load(f, encoding='latin1')
    images = {im['id']: im for im in INSTANCES['images']}
    anns = {a['id']: a for a in INSTANCES['annotations']}
    expected = []
    for r in refs:
        x, y, w, h = anns[r['ann_id']]['bbox']
        im = images[r['image_id']]
        for s in r['sentences']:
            expected.append({'ref_id': r['ref_id'], 'sent_id': s['sent_id'], 'phrase': s['sent'],
                             'caption': pre_caption(s['sent'], 30), 'split': r['split'], 'bbox': [x, y, w, h],
                             'box': [x, y, x + w, y + h], 'file_name': im['file_name'],
                             'width': im['width'], 'height': im['height']})
    write_json(os.path.join(REFCOCO, 'expected_refs.json'), expected, indent=1)

    # ALBEF grounding JSON: one entry per referring expression, no boxes (docs/reference.md §5.2).
    refs_by_id = {r['ref_id']: r for r in refs}
    val = [{'image': 'train2014/' + images[r['image_id']]['file_name'], 'text': s['sent'], 'ref_id': r['ref_id']}
           for r in refs if r['split'] == 'val' for s in r['sentences']]
    write_json(os.path.join(REFCOCO, 'refcoco+_val.json'), val)
    test = [{'image': '/data/coco/train2014/' + images[r['image_id']]['file_name'], 'text': s['sent'], 'ref_id': r['ref_id']}
            for r in refs if r['split'] in ('testA', 'testB') for s in r['sentences']]
    test.insert(1, {'image': '/data/coco/train2014/COCO_train2014_000000000999.jpg', 'text': 'a ref that is not there', 'ref_id': 999})
    write_json(os.path.join(REFCOCO, 'albef', 'refcoco+_test_new_path.json'), test)
    expected_albef = {}
    for name, entries in (('refcoco+_val.json', val), ('albef/refcoco+_test_new_path.json', test)):
        rows = []
        for i, e in enumerate(entries):
            if e['ref_id'] not in refs_by_id:
                continue
            r = refs_by_id[e['ref_id']]
            x, y, w, h = anns[r['ann_id']]['bbox']
            rows.append({'entry': i, 'image': e['image'], 'text': e['text'], 'caption': pre_caption(e['text'], 30),
                         'ref_id': e['ref_id'], 'split': r['split'], 'bbox': [x, y, w, h], 'box': [x, y, x + w, y + h]})
        expected_albef[name] = rows
    write_json(os.path.join(REFCOCO, 'expected_albef.json'), expected_albef, indent=1)


def gen_big_refs(out_dir, n_refs=49856):
    """A RefCOCO+-sized refs(unc).p (Python-2 style, protocol 2) + instances.json, for measuring the reader."""
    import random
    import time
    random.seed(0)
    words = 'man woman left right red shirt chair dog the on in with blue'.split()
    refs, sent_id = [], 0
    for r in range(n_refs):
        sents = []
        for _ in range(random.choice([2, 3, 3, 4])):
            sents.append(sentence(sent_id, ' '.join(random.choice(words) for _ in range(random.randint(2, 8)))))
            sent_id += 1
        refs.append(ref(r, 100000 + r, 1000 + r // 3, random.choice(['train', 'val', 'testA', 'testB']), 1, sents))
    os.makedirs(out_dir, exist_ok=True)
    data = py2_dumps(refs, 2)
    write(os.path.join(out_dir, 'refs(unc).p'), data)
    write_json(os.path.join(out_dir, 'instances.json'), {
        'images': [{'id': 1000 + i, 'file_name': 'COCO_train2014_%012d.jpg' % (1000 + i), 'width': 640, 'height': 480} for i in range(n_refs // 3 + 1)],
        'annotations': [{'id': 100000 + r, 'image_id': 1000 + r // 3, 'bbox': [1.5, 2.5, 100.25, 50.75], 'segmentation': [[1.0] * 40],
                         'area': 1.0, 'iscrowd': 0, 'category_id': 1} for r in range(n_refs)]})
    t0, c0 = time.time(), time.process_time()
    pickle.loads(data, encoding='latin1')
    print('%s: %d bytes, %d refs, %d sentences; Python C pickle.loads: wall %.0f ms, cpu %.0f ms' % (
        out_dir, len(data), n_refs, sent_id, (time.time() - t0) * 1000, (time.process_time() - c0) * 1000))


if __name__ == '__main__':
    if sys.version_info < (3, 8):
        sys.exit('needs Python 3.8+')
    if len(sys.argv) == 3 and sys.argv[1] == '--big-refs':  # not a fixture: a measurement input, written elsewhere
        gen_big_refs(sys.argv[2])
        sys.exit(0)
    gen_flickr()
    gen_pickles()
    gen_refcoco()
    print('wrote', FLICKR, 'and', REFCOCO)
