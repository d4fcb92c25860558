"""DKIM signing throughput on one core: dkimpy's `dkim.sign` against `DkimSigner`.

Also prints the raw `cryptography` RSA-2048 sign rate, the ceiling for any RSA signer.
Usage: .venv/bin/python bench/dkim_bench.py [--count 2000] [--seconds 10] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from mta.submission.mime import build_message
from mta.submission.send_request.request import Address
from mta.submission.signing import SIGNED_HEADERS, DkimSigner, SignerCache, dkim_sign

DOMAIN, SELECTOR = "example.com", "scaisend1"
CEILING, DKIMPY, SIGNER = (
    "cryptography RSA-2048 sign (ceiling)",
    "dkimpy dkim.sign",
    "DkimSigner.sign",
)
PARAGRAPH = "Dear customer,  your order #{i} has shipped.\tThanks for shopping with us!  \n"


def make_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key, pem


def make_message(i: int, size: int = 5 * 1024) -> bytes:
    """A multipart text+html message of about `size` bytes, as intake builds it."""
    text = "".join(PARAGRAPH.format(i=i) for _ in range(size // 2 // len(PARAGRAPH)))
    html = "<html><body>\n" + text.replace("\n", "<br>\n") + "</body></html>\n"
    return build_message(
        sender=Address("orders@example.com", "Example Shop"),
        to=[Address(f"customer{i}@example.net", "A Customer")],
        cc=[],
        reply_to=None,
        subject=f"Your order #{i} has shipped",
        text=text,
        html=html,
        headers={},
        message_id=f"msg{i}",
        queue_id=f"q{i}",
        domain=DOMAIN,
    )


def timed_batch(work: Callable[[int], object], count: int, seconds: float) -> float:
    """Run `work(i)` up to `count` times or for `seconds`, whichever ends first; ops/s."""
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while done < count and time.perf_counter() < deadline:
        work(done)
        done += 1
    return done / (time.perf_counter() - start)


def measure(
    variants: dict[str, Callable[[int], object]], count: int, seconds: float, rounds: int
) -> dict[str, float]:
    """Interleaved rounds (each variant gets count/rounds ops or seconds/rounds per round), so
    load from other processes hits every variant alike; prints best and median, returns best."""
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for work in variants.values():
        work(0)  # warm-up
    for _ in range(rounds):
        for name, work in variants.items():
            rates[name].append(timed_batch(work, max(1, count // rounds), seconds / rounds))
    print(f"{'variant':<40} {'best/s':>8} {'median/s':>9}")
    for name, values in rates.items():
        print(f"{name:<40} {max(values):8.0f} {statistics.median(values):9.0f}")
    return {name: max(values) for name, values in rates.items()}


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "unpinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def check(signed: bytes, key: rsa.RSAPrivateKey) -> None:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    if not dkim.verify(signed, dnsfunc=lambda name, timeout=5: record):
        raise SystemExit("DkimSigner produced a signature dkimpy does not verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="signatures per variant")
    parser.add_argument("--seconds", type=float, default=10.0, help="time cap per variant")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile DkimSigner.sign")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {pin_to_one_core()}")
    key, pem = make_key()
    messages = [make_message(i) for i in range(16)]
    print(f"message size {len(messages[0])} bytes, {len(messages)} variants, RSA-2048")

    def msg(i: int) -> bytes:
        return messages[i % len(messages)]

    digest = hashlib.sha256(b"ceiling").digest()
    pad, prehashed = padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
    signer = DkimSigner(DOMAIN, SELECTOR, pem)
    cache = SignerCache()
    check(signer.sign(msg(0)), key)

    variants: dict[str, Callable[[int], object]] = {
        CEILING: lambda i: key.sign(digest, pad, prehashed),
        DKIMPY: lambda i: dkim.sign(
            msg(i),
            SELECTOR.encode(),
            DOMAIN.encode(),
            pem.encode(),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=SIGNED_HEADERS,
        ),
        SIGNER: lambda i: signer.sign(msg(i)),
        "SignerCache.get(...).sign": lambda i: cache.get(DOMAIN, SELECTOR, pem).sign(msg(i)),
        "dkim_sign (parses the PEM each call)": lambda i: dkim_sign(
            msg(i), domain=DOMAIN, selector=SELECTOR, private_key_pem=pem
        ),
    }
    best = measure(variants, args.count, args.seconds, args.rounds)
    new, old, ceiling = best[SIGNER], best[DKIMPY], best[CEILING]
    print(f"DkimSigner / dkimpy: {new / old:.1f}x;  DkimSigner / ceiling: {new / ceiling:.0%}")
    print(f"non-RSA cost per signature: {(1 / new - 1 / ceiling) * 1e6:.0f} us")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [signer.sign(msg(i)) for i in range(args.count)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
