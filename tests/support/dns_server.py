"""In-process authoritative DNS server (UDP + TCP on one port) for tests.
Owns: the record store, failure injection (SERVFAIL/TIMEOUT), and the txt_value() helper."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer", "txt_value"]

_TXT_CHUNK = 255
_UDP_PLAIN_MAX = 512
_TCP_MAX = 65535
_TIMEOUT = "TIMEOUT"


def txt_value(text: str) -> str:
    """Render ``text`` as TXT presentation format: quoted strings of at most 255 bytes each.

    ``"`` and ``\\`` are backslash-escaped; bytes outside printable ASCII become ``\\DDD``.
    """
    data = text.encode("utf-8")
    chunks = [data[i : i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)] or [b""]
    return " ".join(_quote(chunk) for chunk in chunks)


def _quote(chunk: bytes) -> str:
    out: list[str] = []
    for byte in chunk:
        if byte in (0x22, 0x5C):  # '"' and '\'
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _name(name: str) -> dns.name.Name:
    return dns.name.from_text(name, origin=dns.name.root)


def _rdtype(rdtype: str) -> dns.rdatatype.RdataType:
    return dns.rdatatype.RdataType.make(rdtype.upper())


def _rdata(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    # Names inside values are taken as absolute whether or not they end in a dot.
    return dns.rdata.from_text(
        dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False
    )


class DnsServer:
    """Tiny authoritative server answering from an in-memory record store (class IN only)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._lock = threading.Lock()
        self._records: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
        self._failures: dict[dns.name.Name, str] = {}
        self._queries: list[tuple[str, str, str]] = []
        self._bound: tuple[str, int] | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn_threads: set[threading.Thread] = set()
        self._conns: set[socket.socket] = set()

    # ---------------------------------------------------------------- records

    def add(self, name: str, rdtype: str, value: str, ttl: int = 60) -> None:
        """Add one record (``value`` in zone-file presentation format) to ``name``/``rdtype``."""
        key, rtype = _name(name), _rdtype(rdtype)
        rdata = _rdata(rtype, value)
        with self._lock:
            by_type = self._records.setdefault(key, {})
            rrset = by_type.get(rtype)
            if rrset is None:
                rrset = dns.rrset.RRset(key, dns.rdataclass.IN, rtype)
                by_type[rtype] = rrset
            rrset.add(rdata, ttl)

    def set(self, name: str, rdtype: str, values: list[str], ttl: int = 60) -> None:
        """Replace every record of ``name``/``rdtype`` with ``values`` (empty list removes)."""
        key, rtype = _name(name), _rdtype(rdtype)
        rrset = dns.rrset.RRset(key, dns.rdataclass.IN, rtype)
        for value in values:
            rrset.add(_rdata(rtype, value), ttl)
        with self._lock:
            by_type = self._records.setdefault(key, {})
            if len(rrset):
                by_type[rtype] = rrset
            else:
                by_type.pop(rtype, None)
                if not by_type:
                    del self._records[key]

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Remove records of ``name`` (only of ``rdtype`` if given); missing is not an error."""
        key = _name(name)
        with self._lock:
            by_type = self._records.get(key)
            if by_type is None:
                return
            if rdtype is None:
                by_type.clear()
            else:
                by_type.pop(_rdtype(rdtype), None)
            if not by_type:
                del self._records[key]

    def set_failure(self, name: str, mode: str | None) -> None:
        """Make queries for exactly ``name`` fail.

        ``mode`` is ``"TIMEOUT"`` (drop, never answer) or an rcode name such as ``"SERVFAIL"``
        or ``"REFUSED"``; ``None`` clears the failure.
        """
        key = _name(name)
        with self._lock:
            if mode is None:
                self._failures.pop(key, None)
                return
            mode = mode.upper()
            if mode != _TIMEOUT:
                dns.rcode.from_text(mode)  # validate early
            self._failures[key] = mode

    def clear_failure(self, name: str) -> None:
        self.set_failure(name, None)

    def clear(self) -> None:
        """Drop all records, failures and the query log."""
        with self._lock:
            self._records.clear()
            self._failures.clear()
            self._queries.clear()

    @property
    def queries(self) -> list[tuple[str, str, str]]:
        """Log of received queries as ``(qname, rdtype, "udp" | "tcp")``, qname lower-cased."""
        with self._lock:
            return list(self._queries)

    # -------------------------------------------------------------- lifecycle

    @property
    def address(self) -> tuple[str, int]:
        if self._bound is None:
            raise RuntimeError("DnsServer has not been started")
        return self._bound

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("DnsServer already started")
        # On restart, reuse the previously bound port so callers' resolvers stay valid.
        port = self._bound[1] if self._bound is not None else self._port
        self._udp, self._tcp = self._bind(port)
        self._bound = (self._host, self._udp.getsockname()[1])
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"dns-server-{self._bound[1]}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout=5)
        self._thread = None
        with self._lock:
            conns, self._conns = self._conns, set()
            conn_threads, self._conn_threads = self._conn_threads, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for t in conn_threads:
            t.join(timeout=5)
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self, port: int) -> tuple[socket.socket, socket.socket]:
        attempts = 1 if port else 50
        last: OSError | None = None
        for _ in range(attempts):
            udp = socket.socket(self._family, socket.SOCK_DGRAM)
            tcp = socket.socket(self._family, socket.SOCK_STREAM)
            try:
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                udp.bind((self._host, port))
                tcp.bind((self._host, udp.getsockname()[1]))
                tcp.listen(16)
            except OSError as err:
                udp.close()
                tcp.close()
                last = err
                continue
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        assert last is not None
        raise last

    # ---------------------------------------------------------------- serving

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        udp, tcp = self._udp, self._tcp
        with selectors.DefaultSelector() as sel:
            sel.register(udp, selectors.EVENT_READ)
            sel.register(tcp, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=0.05):
                    if key.fileobj is udp:
                        self._handle_udp(udp)
                    else:
                        self._accept_tcp(tcp)

    def _handle_udp(self, udp: socket.socket) -> None:
        try:
            wire, peer = udp.recvfrom(_TCP_MAX)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        reply = self._answer(wire, "udp")
        if reply is not None:
            with contextlib.suppress(OSError):
                udp.sendto(reply, peer)

    def _accept_tcp(self, tcp: socket.socket) -> None:
        try:
            conn, _ = tcp.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        conn.setblocking(True)
        conn.settimeout(0.2)
        thread = threading.Thread(target=self._serve_tcp_conn, args=(conn,), daemon=True)
        with self._lock:
            self._conns.add(conn)
            self._conn_threads.add(thread)
        thread.start()

    def _serve_tcp_conn(self, conn: socket.socket) -> None:
        try:
            while not self._stopping.is_set():
                header = self._recv_exact(conn, 2)
                if header is None:
                    return
                wire = self._recv_exact(conn, int.from_bytes(header, "big"))
                if wire is None:
                    return
                reply = self._answer(wire, "tcp")
                if reply is not None:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
                self._conn_threads.discard(threading.current_thread())
            conn.close()

    def _recv_exact(self, conn: socket.socket, size: int) -> bytes | None:
        buf = b""
        while len(buf) < size:
            if self._stopping.is_set():
                return None
            try:
                chunk = conn.recv(size - len(buf))
            except TimeoutError:
                continue
            if not chunk:
                return None
            buf += chunk
        return buf

    def _answer(self, wire: bytes, transport: str) -> bytes | None:
        """Build the wire reply for ``wire``; ``None`` means drop (TIMEOUT or unparsable)."""
        try:
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
        except dns.exception.DNSException:
            return None
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        else:
            question = query.question[0]
            qname, qtype = question.name, dns.rdatatype.RdataType.make(question.rdtype)
            with self._lock:
                self._queries.append(
                    (qname.to_text().lower(), dns.rdatatype.to_text(qtype), transport)
                )
                failure = self._failures.get(qname)
                if failure == _TIMEOUT:
                    return None
                if failure is not None:
                    response.set_rcode(dns.rcode.from_text(failure))
                elif question.rdclass != dns.rdataclass.IN:
                    response.set_rcode(dns.rcode.REFUSED)
                else:
                    self._fill(response, qname, qtype)
        if transport == "tcp":
            max_size = _TCP_MAX
        elif query.edns >= 0:
            max_size = max(_UDP_PLAIN_MAX, query.payload)
        else:
            max_size = _UDP_PLAIN_MAX
        try:
            return response.to_wire(max_size=max_size, prefer_truncation=True)
        except Exception:  # never let a bad record kill the serving thread
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire(max_size=max_size, prefer_truncation=True)

    def _fill(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
    ) -> None:
        """Fill the answer section; caller holds the lock."""
        by_type = self._records.get(qname)
        if by_type:
            if qtype == dns.rdatatype.ANY:
                rrsets = list(by_type.values())
            else:
                rrset = by_type.get(qtype)
                rrsets = [rrset] if rrset is not None else []
            for rrset in rrsets:
                # Snapshot under the lock: add() mutates stored rrsets in place.
                response.answer.append(
                    dns.rrset.from_rdata_list(rrset.name, rrset.ttl, list(rrset))
                )
            return
        # Empty non-terminal: the name exists if anything lives below it.
        if any(name.is_subdomain(qname) for name in self._records):
            return
        response.set_rcode(dns.rcode.NXDOMAIN)
