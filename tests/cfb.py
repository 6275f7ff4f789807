"""A minimal, valid OLE compound file (CFB v3) holding the two streams an encrypted Office
document has (``EncryptionInfo`` and ``EncryptedPackage``): what Excel writes when a workbook is
saved with a password. Layout per [MS-CFB]: 512-byte header, sector 0 = FAT, sector 1 = directory,
then each stream's sectors (streams are 4096 bytes, so they live in regular sectors)."""

from __future__ import annotations

import struct

FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
SECTOR = 512


def _dir_entry(name: str, kind: int, left=NOSTREAM, right=NOSTREAM, child=NOSTREAM, start=END, size=0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (encoded.ljust(64, b"\0") + struct.pack("<HBB3I", len(encoded), kind, 1, left, right, child)
            + b"\0" * 16 + struct.pack("<I", 0) + b"\0" * 16 + struct.pack("<IQ", start, size))


def encrypted_office_file() -> bytes:
    stream = 4096
    per = stream // SECTOR  # 8 sectors per stream
    info_start, pkg_start = 2, 2 + per
    fat = [FATSECT, END]
    for start in (info_start, pkg_start):
        fat += list(range(start + 1, start + per)) + [END]
    fat += [FREE] * (SECTOR // 4 - len(fat))
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 0x1000, END, 0, END, 0)
              + struct.pack("<I", 0) + struct.pack("<I", FREE) * 108)
    assert len(header) == SECTOR
    directory = (_dir_entry("Root Entry", 5, child=1)
                 + _dir_entry("EncryptionInfo", 2, right=2, start=info_start, size=stream)
                 + _dir_entry("EncryptedPackage", 2, start=pkg_start, size=stream)
                 + _dir_entry("", 0))
    assert len(directory) == SECTOR
    body = struct.pack(f"<{SECTOR // 4}I", *fat) + directory + b"\x04" * stream + b"\x5a" * stream
    return header + body
