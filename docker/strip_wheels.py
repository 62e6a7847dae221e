"""Strip the symbol tables out of the compiled extensions inside built wheels.

Wheels from PyPI ship their `.so` files unstripped (tantivy's is 17 MB, 12 MB stripped;
asyncpg's protocol 7.9 MB, 0.9 MB stripped); the symbols serve only debuggers, so the image
carries the stripped copies. Each wheel is rewritten in place with its RECORD updated.
Usage: python strip_wheels.py WHEEL_DIR (needs `strip` from binutils).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def strip_wheel(wheel: Path) -> int:
    """Rewrite one wheel with stripped extensions; the bytes saved."""
    with zipfile.ZipFile(wheel) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    names = [info.filename for info, _ in entries]
    if not any(n.endswith(".so") or ".so." in n for n in names):
        return 0
    saved = 0
    out: list[tuple[zipfile.ZipInfo, bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for info, data in entries:
            if info.filename.endswith(".so") or ".so." in info.filename:
                path = Path(tmp) / "ext.so"
                path.write_bytes(data)
                subprocess.run(["strip", "--strip-unneeded", str(path)], check=True)
                stripped = path.read_bytes()
                saved += len(data) - len(stripped)
                data = stripped
            out.append((info, data))
    record = next(n for n in names if n.endswith(".dist-info/RECORD"))
    lines = [_record_line(i.filename, d) for i, d in out if i.filename != record]
    lines.append(f"{record},,")
    body = ("\n".join(lines) + "\n").encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in out:
            zf.writestr(info, body if info.filename == record else data)
    return saved


def main(folder: str) -> None:
    total = sum(strip_wheel(w) for w in sorted(Path(folder).glob("*.whl")))
    sys.stdout.write(f"strip_wheels: {total / 1e6:.1f} MB of symbols removed\n")


if __name__ == "__main__":
    main(sys.argv[1])
