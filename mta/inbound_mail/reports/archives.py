"""Bounded unpacking of a report attachment: gzip, zip or plain, never more than
MAX_UNPACKED_BYTES out, so a decompression bomb is refused with a reason, not expanded."""

from __future__ import annotations

import io
import zipfile
import zlib

MAX_UNPACKED_BYTES = 16 * 1024 * 1024  # the largest report a big provider sends is a few MB
MAX_ZIP_MEMBERS = 4  # a report zip holds one file; a few more (a README) are tolerated
MAX_GZIP_MEMBERS = 16  # concatenated gzip members, each still within the one byte budget
READ_CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class ReportRefused(ValueError):
    """A report not stored, and why (logged and recorded with the inbound message)."""


def unpack(payload: bytes) -> bytes:
    """The report inside `payload`, told apart by its magic bytes (gzip, zip or as is)."""
    if payload.startswith(GZIP_MAGIC):
        return gunzip(payload)
    if payload.startswith(ZIP_MAGIC):
        return unzip(payload)
    if len(payload) > MAX_UNPACKED_BYTES:
        raise ReportRefused(f"report larger than {MAX_UNPACKED_BYTES} bytes")
    return payload


def gunzip(payload: bytes, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """Every gzip member of `payload`, at most `limit` bytes in all."""
    out, rest = bytearray(), payload
    for _ in range(MAX_GZIP_MEMBERS):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise ReportRefused(f"bad gzip data: {exc}") from None
        if len(out) > limit:
            raise ReportRefused(f"gzip expands past {limit} bytes (a decompression bomb?)")
        if not inflater.eof:
            raise ReportRefused("truncated gzip data")
        rest = inflater.unused_data
        if not rest.strip(b"\x00"):
            return bytes(out)
    raise ReportRefused(f"more than {MAX_GZIP_MEMBERS} gzip members")


def unzip(payload: bytes, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """The one report file of a zip (the first .xml or .json member, else the first member),
    read in chunks so a member lying about its size still stops at `limit`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ReportRefused(f"bad zip data: {exc}") from None
    if not members:
        raise ReportRefused("empty zip")
    if len(members) > MAX_ZIP_MEMBERS:
        raise ReportRefused(f"zip holds {len(members)} files (at most {MAX_ZIP_MEMBERS})")
    wanted = [m for m in members if m.filename.lower().endswith((".xml", ".json"))]
    member = (wanted or members)[0]
    if member.file_size > limit:
        raise ReportRefused(f"zip member declares {member.file_size} bytes (over {limit})")
    return _read_member(archive, member, limit)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    out = bytearray()
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(READ_CHUNK):
                out += chunk
                if len(out) > limit:
                    raise ReportRefused(f"zip expands past {limit} bytes (a decompression bomb?)")
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError) as exc:
        raise ReportRefused(f"bad zip member: {exc}") from None
    return bytes(out)
