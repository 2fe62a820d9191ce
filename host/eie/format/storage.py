"""Storage report of a compressed model in EIE form, as in Deep Compression.

Per layer it counts what the EIE format stores: one entry (v, z) per kept
weight plus the padding entries, the codebook, the bias and the per-PE column
pointers. Codes (v) and relative indices (z) are counted at their fixed widths
and again under a Huffman code of their own symbol statistics. The baseline
is the dense float32 layer (weights and bias).

Conventions: a codebook stores one float32 per centroid (code 0 is the
implied zero); the bias is float32; pointers take the fewest bits that hold
the largest per-PE entry count, N * (K + 1) of them per layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from eie.compression.huffman import huffman_bits
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError, check_int
from eie.format.rowmap import encode_layer

FLOAT_BYTES = 4


def _bytes(bits: int) -> int:
    return -(-int(bits) // 8)


class _Ratios:
    """Compression ratios from dense_bytes, total_bytes and total_bytes_huffman."""

    @property
    def compression_ratio(self) -> float:
        return self.dense_bytes / self.total_bytes

    @property
    def compression_ratio_huffman(self) -> float:
        return self.dense_bytes / self.total_bytes_huffman


@dataclass
class LayerStorage(_Ratios):
    name: str
    rows: int
    cols: int
    nnz: int
    entries: int
    padding: int
    weight_bits: int
    index_bits: int
    centroids: int
    code_bytes: int
    code_bytes_huffman: int
    index_bytes: int
    index_bytes_huffman: int
    codebook_bytes: int
    bias_bytes: int
    pointer_bits: int
    pointer_bytes: int
    dense_bytes: int
    # Exact Huffman bit counts (the byte fields above are rounded up).
    code_bits_huffman: int = 0
    index_bits_huffman: int = 0

    @property
    def density(self) -> float:
        return self.nnz / float(self.rows * self.cols)

    @property
    def total_bytes(self) -> int:
        return self.code_bytes + self.index_bytes + self._fixed_bytes

    @property
    def total_bytes_huffman(self) -> int:
        return self.code_bytes_huffman + self.index_bytes_huffman + self._fixed_bytes

    @property
    def _fixed_bytes(self) -> int:
        return self.codebook_bytes + self.bias_bytes + self.pointer_bytes

    @property
    def bits_per_weight_huffman(self) -> float:
        """Average Huffman-coded bits per entry's code."""
        return self.code_bits_huffman / self.entries if self.entries else 0.0

    @property
    def bits_per_index_huffman(self) -> float:
        return self.index_bits_huffman / self.entries if self.entries else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in (
            "density",
            "total_bytes",
            "total_bytes_huffman",
            "bits_per_weight_huffman",
            "bits_per_index_huffman",
            "compression_ratio",
            "compression_ratio_huffman",
        ):
            d[name] = getattr(self, name)
        return d


@dataclass
class StorageReport(_Ratios):
    n_pes: int
    index_bits: int
    layers: list[LayerStorage] = field(default_factory=list)

    @property
    def dense_bytes(self) -> int:
        return sum(l.dense_bytes for l in self.layers)

    @property
    def total_bytes(self) -> int:
        return sum(l.total_bytes for l in self.layers)

    @property
    def total_bytes_huffman(self) -> int:
        return sum(l.total_bytes_huffman for l in self.layers)

    def to_dict(self) -> dict:
        return {
            "n_pes": self.n_pes,
            "index_bits": self.index_bits,
            "layers": [l.to_dict() for l in self.layers],
            "dense_bytes": self.dense_bytes,
            "total_bytes": self.total_bytes,
            "total_bytes_huffman": self.total_bytes_huffman,
            "compression_ratio": self.compression_ratio,
            "compression_ratio_huffman": self.compression_ratio_huffman,
        }

    def format_table(self) -> str:
        head = (
            f"{'layer':<12} {'rows':>6} {'cols':>6} {'nnz':>9} {'density':>7} {'entries':>9} "
            f"{'padding':>8} {'w bits':>6} {'i bits':>6} {'w huff':>6} {'i huff':>6} "
            f"{'bytes':>10} {'huffman':>10} {'ratio':>6} {'huff':>6}"
        )
        lines = [f"EIE storage for N={self.n_pes} PEs, {self.index_bits}-bit relative indices", head]
        for l in self.layers:
            lines.append(
                f"{l.name[:12]:<12} {l.rows:>6} {l.cols:>6} {l.nnz:>9} {l.density:>7.2%} {l.entries:>9} "
                f"{l.padding:>8} {l.weight_bits:>6} {l.index_bits:>6} {l.bits_per_weight_huffman:>6.2f} "
                f"{l.bits_per_index_huffman:>6.2f} {l.total_bytes:>10} {l.total_bytes_huffman:>10} "
                f"{l.compression_ratio:>5.1f}x {l.compression_ratio_huffman:>5.1f}x"
            )
        lines.append(
            f"total: {self.dense_bytes} bytes dense float32 -> {self.total_bytes} bytes "
            f"({self.compression_ratio:.1f}x), {self.total_bytes_huffman} bytes with Huffman coding "
            f"({self.compression_ratio_huffman:.1f}x)"
        )
        return "\n".join(lines)


def layer_storage(layer: CompressedLayer, n_pes: int, index_bits: int) -> LayerStorage:
    m, k = layer.shape
    enc = encode_layer(layer, n_pes, index_bits)
    entries = enc.total_entries
    centroids = int(layer.codes.max()) if layer.nnz else 0
    pointer_bits = max(1, int(enc.n_entries.max()).bit_length())
    v_bits, z_bits = huffman_bits(enc.v), huffman_bits(enc.z)
    return LayerStorage(
        name=layer.name,
        rows=m,
        cols=k,
        nnz=layer.nnz,
        entries=entries,
        padding=enc.padding,
        weight_bits=layer.weight_bits,
        index_bits=enc.index_bits,
        centroids=centroids,
        code_bytes=_bytes(entries * layer.weight_bits),
        code_bytes_huffman=_bytes(v_bits),
        index_bytes=_bytes(entries * enc.index_bits),
        index_bytes_huffman=_bytes(z_bits),
        codebook_bytes=FLOAT_BYTES * centroids,
        bias_bytes=FLOAT_BYTES * m,
        pointer_bits=pointer_bits,
        pointer_bytes=_bytes(n_pes * (k + 1) * pointer_bits),
        dense_bytes=FLOAT_BYTES * (m * k + m),
        code_bits_huffman=int(v_bits),
        index_bits_huffman=int(z_bits),
    )


def storage_report(model: CompressedModel, n_pes: int = 64, index_bits: int = 4) -> StorageReport:
    """Encode every layer for ``n_pes`` PEs and ``index_bits``-bit indices and count bytes."""
    n = check_int("n_pes", n_pes, 1, 4096)
    r = check_int("index_bits", index_bits, 1, 8)
    if not model.layers:
        raise ConfigError("the model has no layers")
    return StorageReport(n, r, [layer_storage(l, n, r) for l in model.layers])
