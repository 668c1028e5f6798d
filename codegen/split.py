"""Split deployment: an early-exit model's stages on two devices, and the link between them.

    --split BOARD_A:STAGES,BOARD_B:STAGES      e.g. nucleo-l4r5zi:0,nucleo-h7a3zi-q:1-
    --link uart:BAUD | bytes-per-s:RATE [,uj-per-byte:E]

Device A (the sensor's microcontroller) runs the first stages and their exit
decisions; when the policy goes on after A's last stage, A sends device B the
tensors that cross the boundary (and only those), in one frame
(templates/link/tx_link.h documents it: magic, version, stage, sequence
number, length, payload, CRC-32). Device B checks the frame, writes the
tensors into its arena at the offsets the plan gave them, runs the remaining
stages and reports the label. Both devices run the same generated library, so
every tensor sits at the same arena offset on both.

The policy must decide from the exit's own logits (none, exit:K, confidence,
margin, entropy): policies that carry state from exit to exit or from sample
to sample would need that state in the frame, which this format does not
carry.

This module holds the parsing, the boundary (which tensors cross it, where
they live, how many bytes), the link cost model, and a Python reference of
the frame that tests hold the C against.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from .boards import Board, load_board
from .errors import TinyexitError
from .ir import Graph

MAGIC = 0x4B4C5854  # "TXLK", little endian
VERSION = 1
HEADER_BYTES = 16
TRAILER_BYTES = 4
OVERHEAD = HEADER_BYTES + TRAILER_BYTES
_HEADER = struct.Struct("<IHHII")  # magic, version, stage, sequence, length

# tx_link_status in tx_link.h, in the order the checks run.
STATUS = {
    0: "ok",
    1: "truncated",
    2: "bad magic",
    3: "bad version",
    4: "bad stage",
    5: "bad length",
    6: "bad crc",
    7: "replayed or out of order",
}
OK, TRUNCATED, BAD_MAGIC, BAD_VERSION, BAD_STAGE, BAD_LENGTH, BAD_CRC, REPLAYED = range(8)

# Policies whose decision at exit k reads only exit k's logits (no state to carry across the link).
MEMORYLESS = ("none", "exit", "confidence", "margin", "entropy")

UART_BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit


@dataclass(frozen=True)
class Device:
    board: Board
    first: int  # first stage this device runs
    last: int  # last stage it runs (inclusive)

    @property
    def stages(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True)
class Split:
    a: Device
    b: Device
    text: str  # as the user wrote it

    @property
    def boundary(self) -> int:
        """The first stage device B runs."""
        return self.b.first


@dataclass(frozen=True)
class Link:
    bytes_per_s: float
    uj_per_byte: float | None  # None: the link's energy is not counted
    text: str

    def seconds(self, nbytes):
        return nbytes / self.bytes_per_s

    def energy_uj(self, nbytes):
        return None if self.uj_per_byte is None else nbytes * self.uj_per_byte


@dataclass(frozen=True)
class Segment:
    """A tensor that crosses the boundary: where it lives in the arena and its place in the payload."""

    tensor: int
    name: str
    offset: int  # arena offset (the same on both devices)
    nbytes: int
    payload_offset: int


_RANGE = re.compile(r"^(\d+)(?:(-)(\d+)?)?$")


def parse_split(text: str) -> tuple[tuple[str, int, int | None], tuple[str, int, int | None]]:
    """'A:0,B:1-' -> (('A', 0, 0), ('B', 1, None)); stage ranges K, K-L or K- (to the last stage)."""
    parts = [p.strip() for p in text.split(",")]
    example = "e.g. --split nucleo-l4r5zi:0,nucleo-h7a3zi-q:1-"
    if len(parts) != 2 or not all(":" in p for p in parts):
        raise TinyexitError(f"--split '{text}' must name two devices as BOARD:STAGES,BOARD:STAGES; {example}")
    out = []
    for part in parts:
        board, _, stages = part.rpartition(":")
        m = _RANGE.match(stages.strip())
        if not board or not m:
            raise TinyexitError(
                f"--split '{text}': '{part}' is not BOARD:STAGES with STAGES as K, K-L or K- (to the last); {example}"
            )
        first = int(m.group(1))
        last = first if not m.group(2) else (int(m.group(3)) if m.group(3) else None)
        out.append((board.strip(), first, last))
    return out[0], out[1]


def resolve_split(text: str, num_stages: int) -> Split:
    """Check a --split against a model's stages: A runs 0..K-1, B runs K..last, both non-empty."""
    (board_a, first_a, last_a), (board_b, first_b, last_b) = parse_split(text)
    if num_stages < 2:
        raise TinyexitError(
            f"--split '{text}': the model has {num_stages} stage; a split needs an early exit (at least 2 stages)"
        )
    last_stage = num_stages - 1
    last_a = last_stage if last_a is None else last_a
    last_b = last_stage if last_b is None else last_b
    cut = f"e.g. {board_a}:0-{num_stages - 2},{board_b}:{num_stages - 1}-"
    if first_a != 0:
        raise TinyexitError(f"--split '{text}': the first device must start at stage 0, not {first_a}; {cut}")
    if last_a >= last_stage:
        raise TinyexitError(
            f"--split '{text}': the model has stages 0..{last_stage}; leave the second device at least one; {cut}"
        )
    if last_a < first_a or last_b < first_b:
        raise TinyexitError(f"--split '{text}': a stage range ends before it starts; {cut}")
    if first_b != last_a + 1:
        raise TinyexitError(
            f"--split '{text}': the second device must start right after the first (stage {last_a + 1}), "
            f"not at {first_b}; {cut}"
        )
    if last_b != last_stage:
        raise TinyexitError(
            f"--split '{text}': the second device must run to the last stage ({last_stage}), not {last_b}; {cut}"
        )
    return Split(
        a=Device(load_board(board_a), 0, last_a), b=Device(load_board(board_b), first_b, last_b), text=text
    )


def parse_link(text: str) -> Link:
    """'uart:115200', 'bytes-per-s:250000', optionally ',uj-per-byte:0.5'."""
    example = "e.g. --link uart:115200 or --link bytes-per-s:250000,uj-per-byte:0.05"
    rate = energy = None
    for part in (p.strip() for p in text.split(",")):
        key, _, value = part.partition(":")
        try:
            number = float(value)
        except ValueError:
            raise TinyexitError(f"--link '{text}': '{part}' needs a number after '{key}:'; {example}") from None
        if not number > 0 or number == float("inf"):
            raise TinyexitError(f"--link '{text}': {key} must be a positive number, not {value}; {example}")
        if key == "uart" and rate is None:
            rate = number / UART_BITS_PER_BYTE
        elif key == "bytes-per-s" and rate is None:
            rate = number
        elif key == "uj-per-byte" and energy is None:
            energy = number
        else:
            raise TinyexitError(
                f"--link '{text}': '{key}' is not expected here; give one of uart:BAUD or bytes-per-s:RATE, "
                f"then optionally uj-per-byte:E; {example}"
            )
    if rate is None:
        raise TinyexitError(f"--link '{text}' gives no rate; {example}")
    return Link(bytes_per_s=rate, uj_per_byte=energy, text=text)


def check_policy(policy: str) -> None:
    kind = policy.strip().split(":", 1)[0]
    if kind not in MEMORYLESS:
        raise TinyexitError(
            f"--split with policy '{policy}': its decision carries state across exits or samples, which the "
            f"frame does not carry; use one of {', '.join(MEMORYLESS)}"
        )


def _root(graph: Graph, tensor: int) -> int:
    return graph.aliases.get(tensor, tensor)


def boundary_segments(graph: Graph, boundary: int) -> list[Segment]:
    """The tensors device B reads that device A (or the model input) produced, in tensor order.

    Consumers are the ops of stages >= boundary and their deferred softmaxes;
    producers are the ops of stages < boundary and the model's input.
    """
    a_ops = [i for s in graph.stages[:boundary] for i in s.ops]
    b_ops = [i for s in graph.stages[boundary:] for i in (*s.ops, *s.deferred_ops)]
    made_on_a = {_root(graph, t) for t in graph.inputs}
    made_on_a |= {_root(graph, t) for i in a_ops for t in graph.ops[i].outputs}
    needed = sorted({
        _root(graph, t) for i in b_ops for t in graph.ops[i].inputs
        if t >= 0 and not graph.tensor(t).is_constant and _root(graph, t) in made_on_a
    })  # fmt: skip
    segments, at = [], 0
    for t in needed:
        tensor = graph.tensor(t)
        segments.append(Segment(t, tensor.name, graph.plan.offsets[t], tensor.nbytes, at))
        at += tensor.nbytes
    return segments


def payload_bytes(segments: list[Segment]) -> int:
    return sum(s.nbytes for s in segments)


def frame_bytes(segments: list[Segment]) -> int:
    return payload_bytes(segments) + OVERHEAD


def encode_frame(sequence: int, stage: int, payload: bytes) -> bytes:
    """The frame device A sends (reference of tx_link_seal)."""
    body = _HEADER.pack(MAGIC, VERSION, stage, sequence, len(payload)) + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body))


def check_frame(frame: bytes, stage: int, length: int, last_sequence: int | None) -> int:
    """The status device B gives a frame (reference of tx_link_open); last_sequence None: none accepted yet."""
    if len(frame) < HEADER_BYTES:
        return TRUNCATED
    magic, version, got_stage, sequence, sent = _HEADER.unpack_from(frame)
    if magic != MAGIC:
        return BAD_MAGIC
    if version != VERSION:
        return BAD_VERSION
    if got_stage != stage:
        return BAD_STAGE
    whole = HEADER_BYTES + length + TRAILER_BYTES
    if sent == length and len(frame) < whole:
        return TRUNCATED
    if sent != length or len(frame) > whole:
        return BAD_LENGTH
    body = frame[: HEADER_BYTES + length]
    if struct.unpack_from("<I", frame, HEADER_BYTES + length)[0] != zlib.crc32(body):
        return BAD_CRC
    if last_sequence is not None and sequence <= last_sequence:
        return REPLAYED
    return OK
