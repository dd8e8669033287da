"""Class-name lists for PASCAL VOC 2012 and MS COCO 2014, in the order CLIP-ES uses.

Index ``i`` in a list is foreground class ``i``; in label maps it is pixel value ``i + 1``
(0 = background, 255 = ignore). The names are the plain dataset names; the prompt text
(synonyms such as "person with clothes,people,human", background words) lives in
``clipwsss.vocab``.
"""

from __future__ import annotations

__all__ = [
    "COCO_CATEGORY_IDS",
    "COCO_CATEGORY_ID_TO_INDEX",
    "COCO_CLASSES",
    "VOC_CLASSES",
]

#: The 20 PASCAL VOC foreground classes in the standard order (aeroplane = 0 = pixel 1).
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

#: The 80 COCO "things" classes in the standard COCO order (person = 0 ... toothbrush = 79),
#: with the VOC-style names of the official CLIP-ES code for the six classes VOC shares
#: under another name: motorcycle -> motorbike, airplane -> aeroplane, couch -> sofa,
#: potted plant -> pottedplant, dining table -> diningtable, tv -> tvmonitor.
#: The 0-based ids in the shipped ``splits/coco14/*.txt`` lists index this tuple.
COCO_CLASSES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorbike",
    "aeroplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "sofa",
    "pottedplant",
    "bed",
    "diningtable",
    "toilet",
    "tvmonitor",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)

#: The COCO annotation-file ``category_id`` of each entry of ``COCO_CLASSES``. The ids run
#: 1..90 with 10 gaps (12, 26, 29, 30, 45, 66, 68, 69, 71, 83: categories dropped from the
#: released annotations).
COCO_CATEGORY_IDS: tuple[int, ...] = (
    *range(1, 12),
    *range(13, 26),
    27,
    28,
    *range(31, 45),
    *range(46, 66),
    67,
    70,
    *range(72, 83),
    *range(84, 91),
)

#: COCO ``category_id`` (1..90) -> 0-based class index (0..79).
COCO_CATEGORY_ID_TO_INDEX: dict[int, int] = {cid: i for i, cid in enumerate(COCO_CATEGORY_IDS)}

assert len(VOC_CLASSES) == 20 and len(COCO_CLASSES) == 80 and len(COCO_CATEGORY_IDS) == 80
