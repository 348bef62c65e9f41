"""Regenerate tests/media/face.png: a small crop of the face in scikit-image's `astronaut` image.

The astronaut photo (Eileen Collins, NASA) is public domain. It is read straight out of a
scikit-image wheel (a zip) so nothing is installed:

    python -m pip download --no-deps scikit-image -d /tmp/skdl
    python tools/make_face_media.py /tmp/skdl/scikit_image-*.whl
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "media" / "face.png"
# Face box in the 512x512 original, padded a little so the Haar cascade sees forehead and chin.
CROP = (150, 35, 300, 195)  # x0, y0, x1, y1: 150x160 around the face
SIZE = (120, 128)  # output w, h


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("data/astronaut.png"))
        img = cv2.imdecode(np.frombuffer(zf.read(name), np.uint8), cv2.IMREAD_COLOR)
    x0, y0, x1, y1 = CROP
    face = cv2.resize(img[y0:y1, x0:x1], SIZE, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(OUT), face, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
