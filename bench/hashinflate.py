#!/usr/bin/env python3
"""The verification work a pull must do, with the fastest libraries on this machine.

Usage: hashinflate.py MODE FILE...
  sha       SHA-256 of each file (OpenSSL through hashlib: SHA-NI where the CPU has it)
  inflate   gzip-inflate each file to nowhere (ISA-L's igzip through python-isal, as berth inflates;
            the system zlib where python-isal is missing, and then `inflater` says so)
  both      inflate each file and SHA-256 the inflated stream (a diff_id)

bench.py runs each mode as a separate process and reads its CPU time (user+sys) from wait4();
`both` minus `inflate` is the cost of hashing the uncompressed bytes. Reads 1 MiB at a time, so
interpreter overhead is a few hundred calls per 100 MB. Prints the bytes produced.
"""
import hashlib
import sys

try:
    from isal import isal_zlib as zlib   # igzip: the inflater berth uses
    INFLATER = "igzip"
except ImportError:
    import zlib
    INFLATER = "zlib"

CHUNK = 1 << 20


def main():
    mode, files = sys.argv[1], sys.argv[2:]
    if mode == "inflater":
        print(INFLATER)
        return
    out_bytes = 0
    for path in files:
        with open(path, "rb") as f:
            if mode == "sha":
                h = hashlib.sha256()
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out_bytes += len(chunk)
                continue
            h = hashlib.sha256() if mode == "both" else None
            z = zlib.decompressobj(31)
            while chunk := f.read(CHUNK):
                while chunk:
                    data = z.decompress(chunk, CHUNK)
                    out_bytes += len(data)
                    if h:
                        h.update(data)
                    chunk = z.unconsumed_tail
                    if z.eof and z.unused_data:   # another gzip member follows
                        chunk = z.unused_data + chunk
                        z = zlib.decompressobj(31)
            if not z.eof:
                # drain what the output bound held back
                while data := z.decompress(b"", CHUNK):
                    out_bytes += len(data)
                    if h:
                        h.update(data)
    print(out_bytes)


if __name__ == "__main__":
    main()
