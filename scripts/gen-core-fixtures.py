#!/usr/bin/python3
"""Writes test/fixtures/core/*.json: the expected values of the grounding math, computed with PyTorch exactly as the
AMC reference code does (docs/reference.md §1.3, §2, §4). Run: /usr/bin/python3 scripts/gen-core-fixtures.py (deterministic)."""
import base64, json, math, os
import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'core')
g = torch.Generator().manual_seed(20231)


def b64(t):
    return base64.b64encode(np.ascontiguousarray(t.detach().numpy().astype('<f4')).tobytes()).decode()


def bits(mask):
    return base64.b64encode(np.packbits(mask.numpy().astype(np.uint8).ravel()).tobytes()).decode()


def gradcam_like(grid):
    """A raw evaluation map with GradCAM-like magnitudes (products of attention and positive gradients)."""
    return (torch.rand(grid, grid, generator=g) ** 3) * 1e-3


# ---- evaluation path: bicubic (align_corners False) + first row-major argmax + strict-inside hit (docs/reference.md §4.1) ----
def eval_point(cam, H, W):
    grid = cam.shape[-1]
    up = F.interpolate(cam.view(1, 1, grid, grid), size=(H, W), mode='bicubic')  # align_corners default False
    m = up[0, 0]
    y, x = (m == m.max()).nonzero()[0].tolist()
    return up[0, 0], x, y


def hit_xyxy(x, y, boxes):  # Flickr rule, docs/reference.md §4.3
    return any(x > b[0] and x < b[2] and y > b[1] and y < b[3] for b in boxes)


def hit_xywh(x, y, boxes):  # RefCOCO+ rule, docs/reference.md §4.2
    return any(x > b[0] and x < b[0] + b[2] and y > b[1] and y < b[1] + b[3] for b in boxes)


bicubic_cases = []
for grid, (H, W), full in [(16, (37, 53), True), (24, (61, 40), True), (16, (256, 256), False), (16, (375, 500), False),
                           (24, (333, 500), False), (24, (480, 640), False), (16, (500, 332), False), (16, (16, 16), True),
                           (24, (9, 11), True)]:
    cam = gradcam_like(grid)
    up, x, y = eval_point(cam, H, W)
    case = {'grid': grid, 'H': H, 'W': W, 'cam': b64(cam), 'argmax': [x, y], 'max': float(up.max()),
            'sum': float(up.double().sum()), 'samples': [[int(i), float(up.view(-1)[i])] for i in
                                                         torch.randint(0, H * W, (32,), generator=g).tolist()]}
    if full:
        case['out'] = b64(up)
    bicubic_cases.append(case)

# Ties and near-ties: the first maximum in row-major order must win, bit-for-bit.
tie_cases = []
const = torch.full((16, 16), 3e-4)
tie_cases.append(('constant map', const))
two = torch.zeros(24, 24); two[5, 7] = 1e-3; two[5, 17] = 1e-3
tie_cases.append(('two equal peaks on one row', two))
sym = torch.zeros(16, 16); sym[3, 3] = 1e-3; sym[12, 3] = 1e-3
tie_cases.append(('two equal peaks in one column', sym))
near = gradcam_like(16); near[8, 8] = 2e-3; near[8, 9] = float(np.nextafter(np.float32(2e-3), np.float32(0)))
tie_cases.append(('near-tie one ulp apart', near))
plateau = torch.zeros(16, 16); plateau[4:8, 4:8] = 1e-3
tie_cases.append(('flat plateau', plateau))
for name, cam in tie_cases:
    for (H, W) in [(375, 500), (256, 256), (333, 499)]:
        up, x, y = eval_point(cam, H, W)
        # A flat region upsampled is flat only up to float32 rounding noise, so its argmax is decided by the last bit
        # of torch's kernel arithmetic ('ulp_tie'); see interpolate.ts for what the TS side guarantees there.
        ulp_tie = name in ('constant map', 'flat plateau', 'near-tie one ulp apart')
        bicubic_cases.append({'name': name, 'grid': cam.shape[0], 'H': H, 'W': W, 'cam': b64(cam), 'argmax': [x, y],
                              'max': float(up.max()), 'sum': float(up.double().sum()), 'samples': [], 'ulp_tie': ulp_tie,
                              'value_at': {f'{px},{py}': float(up[py, px]) for px, py in
                                           [(x, y)] + [tuple(p) for p in torch.randint(0, min(H, W), (8, 2), generator=g).tolist()]}})

# Pointing game: boxes around, on and off the argmax pixel (on the border is a miss: strictly inside only).
pointing_cases = []
for i in range(12):
    grid = 16 if i % 2 == 0 else 24
    H, W = [(375, 500), (333, 500), (500, 375), (427, 640)][i % 4]
    cam = gradcam_like(grid)
    _, x, y = eval_point(cam, H, W)
    xyxy = [[x - 10, y - 10, x + 10, y + 10], [x, y - 5, x + 20, y + 5], [x - 20, y, x + 20, y + 30],
            [x - 30, y - 30, x, y + 30], [x + 1, y + 1, x + 40, y + 40], [x - 0.5, y - 0.5, x + 0.5, y + 0.5],
            [0, 0, W, H], [-50, -50, 2 * W, 2 * H]]
    box_results = [{'box': b, 'hit': hit_xyxy(x, y, [b])} for b in xyxy]
    xywh = [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in xyxy]
    pointing_cases.append({'grid': grid, 'H': H, 'W': W, 'cam': b64(cam), 'point': [x, y], 'boxes': box_results,
                           'union_hit': hit_xyxy(x, y, xyxy[1:3]),
                           'xywh': [{'box': b, 'hit': hit_xywh(x, y, [b])} for b in xywh]})


# ---- training path: box mask, OpenCV nearest resize, min-max + bilinear, the AMC loss (docs/reference.md §1.3, §2) ----
def box_mask(box, w, h):
    """caption_dataset.py: clamp, int(), end-exclusive, at original resolution."""
    x1, y1, x2, y2 = box
    x1 = int(min(max(x1, 0), w - 1)); y1 = int(min(max(y1, 0), h - 1))
    x2 = int(min(max(x2, 1), w)); y2 = int(min(max(y2, 1), h))
    m = torch.zeros(h, w)
    if x1 < x2 and y1 < y2:
        m[y1:y2, x1:x2] = 1
    return m


def cv_nearest_indices(n, size=256):
    """OpenCV INTER_NEAREST: min(n-1, floor(i * (1/(size/n)))) in float64, in that order (docs/reference.md §2 step 6)."""
    ifx = 1.0 / (size / n)
    return np.minimum(n - 1, np.floor(np.arange(size, dtype=np.float64) * ifx).astype(np.int64))


def cv_nearest(mask, size=256):
    h, w = mask.shape
    ys, xs = cv_nearest_indices(h, size), cv_nearest_indices(w, size)
    return mask[torch.from_numpy(ys)][:, torch.from_numpy(xs)]


differing_sides = [n for n in range(240, 641) if any(
    cv_nearest_indices(n)[i] != (i * n) // 256 for i in range(256))]
assert {246, 372, 396, 420} <= set(differing_sides), differing_sides[:10]

mask_cases = []
for (w, h) in [(246, 372), (396, 420), (500, 375), (640, 480), (256, 256), (333, 500), (7, 300)]:
    boxes = [[10.7, 20.2, 120.9, 200.5], [-15, -3, 40, 30], [w - 30, h - 20, w + 50, h + 80], [50, 60, 50, 90],
             [80.9, 90, 80.2, 140], [w + 10, 5, w + 40, 40], [0, 0, w, h]]
    for box in boxes:
        m = box_mask(box, w, h)
        mask_cases.append({'w': w, 'h': h, 'box': box, 'sum_orig': int(m.sum()), 'resized': bits(cv_nearest(m))})
    u = torch.clamp(box_mask(boxes[0], w, h) + box_mask(boxes[1], w, h), max=1)
    mask_cases.append({'w': w, 'h': h, 'boxes': boxes[:2], 'sum_orig': int(u.sum()), 'resized': bits(cv_nearest(u))})


def training_maps(cams):
    """model_pretrain.py L223-232: relu, per-sample min-max with 1e-7 after subtracting the min, bilinear to 256."""
    B, grid, _ = cams.shape
    x = F.relu(cams).view(B, -1)
    x = x - x.min(1, keepdim=True)[0]
    x = x / (x.max(1, keepdim=True)[0] + 1e-7)
    return F.interpolate(x.view(B, 1, grid, grid), size=(256, 256), mode='bilinear', align_corners=False)[:, 0]


def amc_loss(A, M):
    """model_pretrain.py L234-244 with the batch axis kept (the reference's squeeze breaks at batch 1)."""
    inside = (A * M).sum() / M.sum()
    outside = (A * (1 - M)).sum() / (1 - M).sum()
    l_mean = F.relu(outside - inside + 0.1)
    B = A.shape[0]
    l_max = F.relu((A * (1 - M)).view(B, -1).max(1)[0] - (A * M).view(B, -1).max(1)[0] + 0.5).mean()
    nan_to_none = lambda v: None if math.isnan(v) else v  # JSON has no NaN: null marks the reference's 0/0
    return nan_to_none(float(l_mean)), float(l_max), nan_to_none(float(0.2 * l_mean + 0.8 * l_max))


loss_cases = []
for name, B, grid, special in [('batch 4 g16', 4, 16, None), ('batch 3 g24', 3, 24, None), ('batch of one', 1, 16, None),
                               ('one empty mask in batch', 3, 16, 'one-empty'), ('whole-image mask in batch', 2, 16, 'one-full'),
                               ('batch of one, empty mask', 1, 16, 'all-empty'), ('batch of one, whole-image mask', 1, 24, 'all-full')]:
    cams = torch.stack([gradcam_like(grid) for _ in range(B)])
    A = training_maps(cams)
    sizes = [(500, 375), (333, 500), (246, 372), (640, 480)]
    items, masks = [], []
    for b in range(B):
        w, h = sizes[b % 4]
        x1 = float(torch.randint(0, w // 2, (1,), generator=g)); y1 = float(torch.randint(0, h // 2, (1,), generator=g))
        boxes = [[x1, y1, x1 + w / 3, y1 + h / 4]]
        if special == 'all-empty' or (special == 'one-empty' and b == 1):
            boxes = [[w + 5, 10, w + 50, 40]]
        if special == 'all-full' or (special == 'one-full' and b == 0):
            boxes = [[-10, -10, w + 10, h + 10]]
        m = torch.zeros(h, w)
        for bx in boxes:
            m = torch.clamp(m + box_mask(bx, w, h), max=1)
        masks.append(cv_nearest(m))
        items.append({'cam': b64(cams[b]), 'boxes': boxes, 'w': w, 'h': h})
    M = torch.stack(masks)
    l_mean, l_max, total = amc_loss(A, M)
    case = {'name': name, 'grid': grid, 'items': items, 'torch': {'lMean': l_mean, 'lMax': l_max, 'total': total},
            'map0_samples': [[int(i), float(A[0].view(-1)[i])] for i in torch.randint(0, 65536, (64,), generator=g).tolist()],
            'map0_sum': float(A[0].double().sum())}
    if special in ('all-empty', 'all-full'):
        # The reference gives NaN here (0/0); record it, and what our documented convention gives.
        A0, M0 = A[0], M[0]
        mean_in = float((A0 * M0).sum() / M0.sum()) if M0.sum() > 0 else 0.0
        mean_out = float((A0 * (1 - M0)).sum() / (1 - M0).sum()) if (1 - M0).sum() > 0 else 0.0
        l_mean_c = max(0.0, mean_out - mean_in + 0.1)
        case['convention'] = {'lMean': l_mean_c, 'lMax': l_max, 'total': 0.2 * l_mean_c + 0.8 * l_max}
    loss_cases.append(case)

os.makedirs(OUT, exist_ok=True)
for name, data in [('bicubic', bicubic_cases), ('pointing', pointing_cases), ('masks', {'cases': mask_cases,
                   'differing_sides': differing_sides}), ('losses', loss_cases)]:
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'generator': 'scripts/gen-core-fixtures.py', 'torch': torch.__version__, 'data': data}, f, allow_nan=False)
print('wrote', OUT)
