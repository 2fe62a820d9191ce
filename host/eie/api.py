"""The one-object Python API: bring a model, compress it, run it, deploy it.

    import eie
    m = eie.from_torch(model)                  # or eie.from_onnx("m.onnx"), eie.load("m.pt" / "w.npz")
    m.compress(density=0.1, weight_bits=4, data=(x_train, y_train), retrain=True)
    m.report(x_test, y_test)                   # float / pruned / shared / integer figures, per layer
    y = m.predict(x_test, backend="csim")      # "float", "compressed", "emulator", "csim", "cosim", "board"
    m.deploy("build/mine", board="zcu104")     # HLS kernel, model image(s), compressed model

``Network`` works for MLPs (Linear/ReLU stacks) and LSTMs (stacked,
bidirectional, with a Linear head); LSTM inputs are B x T x I sequences,
their gate matrices run on the kernel and the cell update on the host
(``eie.arithmetic.lstm``). Every backend gives the same integer kernel
outputs; ``verify`` checks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.compression.lstm import CompressedLSTM, compress_lstm
from eie.compression.model import CompressedModel
from eie.compression.pipeline import compress as compress_layers
from eie.compression.report import (
    Data,
    StageReport,
    aggressive_warnings,
    dense_forward,
    layer_output_errors,
    relative_l2,
    score,
    weight_errors,
)
from eie.errors import ConfigError
from eie.frontend import Imported, load_model
from eie.frontend.torch import from_module

FLOAT_BACKENDS = ("float", "pruned", "compressed")
DEFAULT_BOARD = "zcu104"


def _data(data) -> Data | None:
    if data is None or isinstance(data, Data):
        return data
    if isinstance(data, (str, os.PathLike)):
        from eie.compression.report import load_data

        return load_data(str(data))
    items = list(data)
    if len(items) == 2:
        return Data(np.asarray(items[0]), np.asarray(items[1]), np.asarray(items[0]), np.asarray(items[1]))
    if len(items) == 4:
        return Data(*(np.asarray(a) for a in items))
    raise ConfigError("data must be (x, y), (x_train, y_train, x_test, y_test), a Data or an .npz path")


@dataclass
class Network:
    """An imported network and, once ``compress`` ran, its compressed and quantised forms."""

    imported: Imported
    compressed: CompressedModel | CompressedLSTM | None = None
    pruned: object | None = None  # float network after pruning + retraining (retrain only)
    retrained: bool = False
    n_pes: int = 16
    index_bits: int = 4
    board: str = DEFAULT_BOARD
    notes: list[str] = field(default_factory=list)
    # A fixed accelerator configuration (its n_pes and bit widths are used);
    # without it one is sized for the network on ``board``.
    fixed_config: object | None = None
    _calib: np.ndarray | None = None
    _quant: object | None = None
    _backends: dict = field(default_factory=dict)

    # -- what it is ------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.imported.kind

    @property
    def layers(self):
        """The float layers (gate matrices then head for an LSTM)."""
        return self.imported.all_layers

    def _float_forward(self, x):
        if self.kind == "lstm":
            return self.imported.lstm.forward(x)
        return dense_forward(self.imported.layers, x)

    def _pruned_forward(self, x):
        if self.pruned is None:
            raise ConfigError("no pruned stage: it exists after compress(retrain=True)")
        return self.pruned.forward(x) if self.kind == "lstm" else dense_forward(self.pruned, x)

    # -- compression -------------------------------------------------------------
    def compress(
        self,
        density: float | dict[str, float] = 0.1,
        weight_bits: int | dict[str, int] = 4,
        data=None,
        retrain: bool = False,
        ternary: bool = False,
        seed: int = 0,
        retrain_config=None,
        progress: bool = False,
        prune: bool = True,
        init: str = "linear",
        epochs: int | None = None,
        lr: float | None = None,
    ) -> Network:
        """Prune to ``density`` and share in 2^``weight_bits`` - 1 centroids (per layer with dicts).

        ``retrain=True`` (needs torch and ``data``) runs Deep Compression's
        prune -> retrain -> share -> fine-tune schedule; ``ternary=True`` TTQ.
        ``data``: (x, y), (x_train, y_train, x_test, y_test) or an .npz path.
        ``retrain_config`` (``eie.train.retrain.RetrainConfig``) sets the whole
        schedule; ``epochs`` and ``lr`` change its retraining epochs and rate
        (``eie.train.retrain.retrain_config``, what ``eie compress --epochs --lr`` do).
        """
        d = _data(data)
        if epochs is not None or lr is not None:
            from eie.train.retrain import retrain_config as schedule

            retrain_config = schedule(epochs=epochs, lr=lr, base=retrain_config)
        if (retrain or ternary) and d is None:
            raise ConfigError("retraining needs data: compress(..., data=(x_train, y_train), retrain=True)")
        if retrain or ternary:
            from eie.train.retrain import retrain_compress

            net = self.imported.lstm if self.kind == "lstm" else self.imported.layers
            res = retrain_compress(
                net,
                d.x_train,
                d.y_train,
                density=density,
                weight_bits=weight_bits,
                ternary=ternary,
                config=retrain_config,
                seed=seed,
                progress=progress,
            )
            self.compressed, self.pruned, self.retrained = res.model, res.pruned, True
        else:
            if self.kind == "lstm":
                self.compressed = compress_lstm(
                    self.imported.lstm, density=density, prune=prune, weight_bits=weight_bits, init=init, seed=seed
                )
            else:
                self.compressed = compress_layers(
                    self.imported.layers,
                    density=density if prune else None,
                    prune=prune,
                    weight_bits=weight_bits,
                    init=init,
                    seed=seed,
                )
            self.pruned, self.retrained = self._masked_float(), False
        self._calib = None if d is None else np.asarray(d.x_train[:256], dtype=np.float64)
        self._quant = None
        return self

    def search(
        self,
        target_drop: float,
        data,
        weight_bits: int | dict[str, int] = 4,
        retrain: bool = True,
        retrain_config=None,
        epochs: int | None = None,
        lr: float | None = None,
        seed: int = 0,
        progress: bool = False,
        start: float = 0.1,
        max_trials: int = 6,
        scan=None,
        init: str = "linear",
    ):
        """Compress to the smallest overall density whose held-out drop is at most ``target_drop``.

        Per-layer densities allocated by sensitivity, each trial compressed
        (and retrained as Deep Compression does when ``retrain``) and scored on
        ``data``'s test split, the overall density bisected
        (``eie.compression.search``). Leaves the network compressed as the best
        trial and returns the ``SearchResult`` (every trial: per-layer densities,
        score, drop, bytes). ``scan``: a sensitivity scan already made on the
        same test data. A ConfigError with the table when no trial is within the drop.
        """
        from eie.compression.report import score
        from eie.compression.report import sensitivity as sensitivity_scan
        from eie.compression.search import search

        d = _data(data)
        if d is None:
            raise ConfigError("the density search needs data with a test split: (x_train, y_train, x_test, y_test)")
        if scan is None:
            scan = sensitivity_scan(self.layers, d.x_test, d.y_test, forward=self._layers_forward())
        sizes = {l.name: int(np.size(l.weight)) for l in self.layers}
        states: dict[int, tuple] = {}

        def compress(dens):
            self.compress(
                density=dens,
                weight_bits=weight_bits,
                data=d,
                retrain=retrain,
                retrain_config=retrain_config,
                epochs=epochs if retrain else None,
                lr=lr if retrain else None,
                seed=seed,
                init=init,
            )
            states[id(self.compressed)] = (self.compressed, self.pruned, self.retrained)
            return self.compressed

        def size(model):  # Deep Compression's accounting (an LSTM: every gate matrix and the head)
            from eie.format.storage import storage_report

            return storage_report(model, n_pes=1, index_bits=5).total_bytes

        bar = None
        if progress:
            import sys

            from tqdm.auto import tqdm

            bar = tqdm(total=max_trials, desc="density search", unit="trial", file=sys.stderr)

        def step(t):
            if bar is not None:
                bar.set_postfix(density=f"{t.density:.1%}", drop=f"{t.drop:.4f}", refresh=False)
                bar.update(1)

        try:
            res = search(
                scan,
                sizes,
                target_drop,
                compress,
                lambda m: score(m.forward(d.x_test), d.y_test)[1],
                size=size,
                start=start,
                max_trials=max_trials,
                progress=step,
            )
        finally:
            if bar is not None:
                bar.close()
        if res.model is None:
            raise ConfigError(
                res.format()
                + f"\nno trial is within {target_drop:g} of float: raise --target-drop"
                + ("" if retrain else ", or add --retrain")
            )
        self.compressed, self.pruned, self.retrained = states[id(res.model)]
        self._quant = None
        self._calib = np.asarray(d.x_train[:256], dtype=np.float64)
        return res

    def _layers_forward(self):
        """``forward(layers, x)`` of the float network in the toolkit's layer order (for the sensitivity scan)."""
        if self.kind != "lstm":
            return dense_forward
        from eie.compression.lstm import FloatLSTM

        lstm = self.imported.lstm
        nc = len(lstm.cells)
        return lambda ls, x: FloatLSTM(lstm.spec, list(ls[:nc]), list(ls[nc:])).forward(x)

    def calibrate(self, x: np.ndarray) -> dict:
        """Store the activation peaks of representative inputs with the compressed model and use them.

        ``x``: float inputs B x K (an MLP) or sequences B x T x I (an LSTM).
        What ``eie compress --calib`` does: ``save``/``deploy`` write the model
        with its calibration, and its images use these formats.
        """
        model = self._need_compressed()
        cal = model.calibrate(np.asarray(x, dtype=np.float64))
        self._calib, self._quant, self._backends = None, None, {}  # the stored calibration sets the formats
        return cal

    def _masked_float(self):
        """The imported float weights with the compressed model's pruned positions zeroed."""
        from eie.compression.weights import DenseLayer

        out = []
        for f, c in zip(self.layers, self.compressed.layers):
            keep = c.dense_codes() != 0
            out.append(DenseLayer(f.name, np.asarray(f.weight) * keep, f.bias, f.activation))
        if self.kind == "lstm":
            from eie.compression.lstm import FloatLSTM

            n = len(self.imported.lstm.cells)
            return FloatLSTM(self.imported.lstm.spec, out[:n], out[n:])
        return out

    def _need_compressed(self):
        if self.compressed is None:
            raise ConfigError("compress() the network first")
        return self.compressed

    # -- the integer model ---------------------------------------------------------
    def quantized(self):
        """The ``QuantModel`` (MLP) or ``QuantLSTM`` the kernel runs.

        Calibrated on the training inputs (``compress(data=...)``), else on
        the calibration stored with the model (``eie compress --calib``), else
        the default activation format, with a warning naming it and its range.
        """
        from eie.format.qmodel import HWParams

        if self._quant is not None:
            return self._quant
        model = self._need_compressed()
        bits = max([4] + [l.weight_bits for l in model.layers])
        widen = None  # a fixed configuration pins acc_bits; else it is sized up to the DSP's native width
        if self.fixed_config is not None:
            params = self.fixed_config.to_hwparams()
        else:
            from eie.hardware.boards import BOARDS, DSP_ACC_BITS

            params = HWParams(self.n_pes, bits, self.index_bits)
            widen = DSP_ACC_BITS[BOARDS[self.board].family] if self.board in BOARDS else 48
        # Without data: the calibration stored with the model (compress --calib), else the default
        # format, said loudly (a warning and a note naming it and its range); never random data.
        calib = self._calib
        if self.kind == "lstm":
            from eie.arithmetic.lstm import quantize_lstm

            self._quant = quantize_lstm(model, params, calib, max_acc_bits=widen)
            warning = self._quant.info.get("warning")
        else:
            from eie.arithmetic.quant import quantize

            self._quant = quantize(model, params, calib=calib, max_acc_bits=widen)
            warning = None
            if self._quant.info.get("calibration") == "default":
                warning = (
                    f"no calibration: activations use the default format ({self._quant.fa_in} fraction bits of "
                    f"signed {params.act_bits} bits, range +-{2.0 ** (params.act_bits - 1 - self._quant.fa_in):g}); "
                    "values beyond saturate. Calibrate with compress(data=...) or calibrate(x) "
                    "(eie compress: --data DATA.npz or --calib X.npy)"
                )
        if warning is not None:
            import warnings

            if warning not in self.notes:
                self.notes.append(warning)
            warnings.warn(f"eie: {warning}", UserWarning, stacklevel=2)
        return self._quant

    def _input_shape(self) -> tuple[int, ...]:
        if self.kind == "lstm":
            return (8, self.imported.lstm.spec.input_size)
        return (np.shape(self.imported.layers[0].weight)[1],)

    def _models(self):
        q = self.quantized()
        return q.models if self.kind == "lstm" else [q]

    def config(self):
        """The accelerator configuration sized for this network on ``self.board``."""
        from eie.board.backends import config_for_models
        from eie.hardware.streaming import assign_storage, sized_for_models

        # Each layer on chip or streamed from DDR, as the configuration's storage decides
        # (eie.hardware.streaming); the images follow the layers' storage.
        if self.fixed_config is not None:
            from eie.hardware.resources import check_model_fits

            for qm in self._models():
                assign_storage(self.fixed_config, qm)
                check_model_fits(self.fixed_config, qm)
            return self.fixed_config
        return sized_for_models(config_for_models(self._models(), board=self.board), self._models())

    def plan(
        self,
        board: str | None = None,
        config=None,
        objective: str = "latency",
        target_latency_us: float | None = None,
        x: np.ndarray | None = None,
        use: bool = False,
    ):
        """``eie plan`` for this network (an MLP): the accelerator chosen for it on ``board`` (eie.hardware.plan).

        ``x``: representative inputs (else the inputs it was calibrated on, else the
        calibration stored with the model, else the stated default). ``config``: a
        partial YAML file or an AcceleratorConfig whose fields are kept. ``use=True``
        makes the chosen configuration this network's fixed configuration (for
        ``predict``, ``verify`` and ``deploy``). Returns the ``Plan``
        (``plan.config``, ``plan.to_dict()``); every figure is modelled.
        """
        from eie.hardware.plan import plan_model

        if self.kind == "lstm":
            raise ConfigError("plan() takes MLPs; an LSTM's gate matrices are not planned yet")
        model = self._need_compressed()
        calib = np.atleast_2d(np.asarray(x, dtype=np.float64)) if x is not None else self._calib
        if board is None and config is None:
            board = self.board  # a configuration given without a board keeps its own
        result = plan_model(model, board, config, calib, objective, target_latency_us)
        if use:
            self.fixed_config = result.config
            self._quant, self._backends = None, {}
        return result

    def backend(self, name: str, overlay_ip=None):
        from eie.board.backends import KERNEL_BACKENDS, make_backend

        if name not in self._backends or name == "board":
            cfg = self.config() if name in KERNEL_BACKENDS else None
            self._backends[name] = make_backend(name, cfg, overlay_ip)
        return self._backends[name]

    # -- running -----------------------------------------------------------------
    def predict(self, x: np.ndarray, backend: str = "emulator", overlay_ip=None, trace: bool = False) -> np.ndarray:
        """Outputs for x: ``float`` (imported weights), ``pruned``, ``compressed`` (float reference),
        or the integer path on ``emulator``, ``csim``, ``csim-concurrent``, ``cosim`` or ``board``
        (``overlay_ip=ol.eie``)."""
        if backend == "float":
            return self._float_forward(x)
        if backend == "pruned":
            return self._pruned_forward(x)
        if backend == "compressed":
            return self._need_compressed().forward(x)
        out, _ = self._run_integer(x, backend, overlay_ip)
        return out

    def _run_integer(self, x, backend, overlay_ip=None):
        from eie.arithmetic.emulator import dequantize_output, quantize_input, unpermute

        be = self.backend(backend, overlay_ip)
        q = self.quantized()
        if self.kind == "lstm":
            from eie.arithmetic.lstm import LSTMRunner

            runner = LSTMRunner(q, be, trace=True)
            return runner.run(x), runner.kernel_outputs
        be.load(q)
        y = np.asarray(be.run_int(quantize_input(q, x)), dtype=np.int64)
        return dequantize_output(q, unpermute(q, y)), [y]

    def verify(self, x: np.ndarray, backend: str = "csim", overlay_ip=None) -> dict:
        """Run x on ``backend`` and on the emulator; compare every kernel output bit for bit."""
        _, got = self._run_integer(x, backend, overlay_ip)
        _, want = self._run_integer(x, "emulator")
        mismatches = sum(int(np.count_nonzero(a != b)) for a, b in zip(got, want)) + abs(len(got) - len(want))
        return {
            "backend": backend,
            "kernel_runs": len(got),
            "outputs": int(sum(a.size for a in want)),
            "mismatches": mismatches,
            "bit_exact": mismatches == 0,
        }

    # -- reports -------------------------------------------------------------------
    def report(
        self, x: np.ndarray | None = None, y: np.ndarray | None = None, backend: str = "emulator"
    ) -> StageReport:
        """Per-layer weight errors; with (x, y) the score of float and each stage, and per-layer output errors."""
        model = self._need_compressed()
        rep = StageReport(metric="")
        float_layers = self.layers
        if self.pruned is not None and self.retrained:
            # after retraining the float reference for weight errors is the retrained float network
            float_layers = self.pruned.layers if self.kind == "lstm" else self.pruned
        rep.layers = weight_errors(float_layers, model)
        if x is not None:
            if self.kind != "lstm":
                for r, e in zip(rep.layers, layer_output_errors(float_layers, model, x)):
                    r["output_error"] = e
            if y is not None:
                stages = {"float": self._float_forward}
                if self.pruned is not None:
                    stages["pruned (retrained)" if self.retrained else "pruned"] = self._pruned_forward
                stages["pruned + shared"] = model.forward
                stages[f"integer ({backend})"] = lambda v: self.predict(v, backend=backend)
                for name, fwd in stages.items():
                    m, v = score(fwd(x), y)
                    rep.metric = m
                    rep.scores[name] = v
            else:
                ref = self._float_forward(x)
                rep.metric = "relative_error_vs_float"
                rep.scores["pruned + shared"] = relative_l2(ref, model.forward(x))
                rep.scores[f"integer ({backend})"] = relative_l2(ref, self.predict(x, backend=backend))
        rep.notes = list(self.imported.notes) + aggressive_warnings(model, self.retrained) + self.notes
        return rep

    # -- files -----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> str:
        self._need_compressed().save(path)
        return str(path)

    def deploy(
        self,
        out_dir: str | os.PathLike,
        board: str | None = None,
        n_pes: int | None = None,
        x: np.ndarray | None = None,
    ) -> dict:
        """Write the deployment bundle into ``out_dir``.

        An MLP gets the bundle ``eie deploy`` writes (model.img, config.yaml, test
        vectors, build/, manifest.json; ``eie run`` reads it), calibrated as this
        network is, for the configuration ``eie deploy --board`` chooses: the
        fixed configuration if one is set, else the largest PE count that fits
        ``board`` (or ``n_pes`` if given) with depths sized to the model. An LSTM
        gets its images, the rendered kernel (``hls/``) and the compressed model.
        """
        if self.kind != "lstm":
            return self._deploy_bundle(out_dir, board, n_pes, x)
        from eie.arithmetic.emulator import quantize_input
        from eie.kernel.render import render

        if board is not None and board != self.board or n_pes is not None and n_pes != self.n_pes:
            self.board = board or self.board
            self.n_pes = n_pes or self.n_pes
            self._quant, self._backends = None, {}
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        config = self.config()
        models = self._models()
        if self.kind == "lstm":
            from eie.arithmetic.lstm import save_quant_lstm

            images = save_quant_lstm(self.quantized(), out)
        else:
            images = [str(out / "model.image.bin")]
            from eie.safeio import atomic_write

            atomic_write(images[0], models[0].to_image().astype("<u8").tobytes())
        first = models[0]
        rng = np.random.default_rng(0)
        xv = rng.standard_normal((4, first.in_features)) if x is None else np.asarray(x)
        rendered = render(config, out / "hls", qm=first, x_int=quantize_input(first, xv))
        model_path = self.save(out / "compressed.npz")
        q = self.quantized()
        info = q.info if self.kind == "lstm" else {"calibration": q.info.get("calibration")}
        return {
            "calibration": info.get("calibration"),
            "build_dir": str(Path(rendered.out_dir).resolve()),
            "images": images,
            "compressed_model": model_path,
            "board": config.board,
            "n_pes": config.n_pes,
            "next": f"eie build {Path(rendered.out_dir).resolve()} --steps csim csynth cosim export",
        }

    def _deploy_bundle(self, out_dir, board: str | None, n_pes: int | None, x: np.ndarray | None) -> dict:
        from eie.board.deploy import deploy

        model = self._need_compressed()
        # The calibration this network quantises with (its training inputs, else the one stored with
        # the model), as `eie deploy --calib` would take it; test vectors: x, else the deploy's own.
        calib = self._calib
        m = deploy(
            model,
            out_dir,
            config=self.fixed_config,
            calib=calib,
            board=None if self.fixed_config is not None else board,
            n_pes=None if self.fixed_config is not None else n_pes,
            vectors=8 if x is None else max(1, len(np.atleast_2d(x))),
        )
        for line in m["chosen"]:
            print(f"chose {line}")
        out = Path(out_dir).resolve()
        return {
            "bundle": str(out),
            "calibration": m["calibration"],
            "build_dir": str(out / m["build_dir"]),
            "images": [str(out / m["image"]["file"])],
            "board": m["config"]["board"],
            "n_pes": m["config"]["n_pes"],
            "config": m["config"],
            "chosen": m["chosen"],
            "next": f"eie run {out} --input X.npy [--backend board|emulator]; "
            f"eie build {out / m['build_dir']} --steps csim csynth cosim export",
        }


def from_torch(model) -> Network:
    """A PyTorch ``nn.Module`` (Sequential of Linear/ReLU, nn.LSTM, LSTM + Linear head; pruned ones too)."""
    return Network(from_module(model))


def from_onnx(path: str | os.PathLike) -> Network:
    from eie.frontend.onnx import load_onnx

    return Network(load_onnx(str(path)))


def load(path: str | os.PathLike, trust_pickle: bool = False) -> Network:
    """A weights ``.npz``, a ``.pt``/``.pth`` or an ``.onnx`` file."""
    return Network(load_model(path, trust_pickle=trust_pickle))


# -- the work behind ``eie compress`` ------------------------------------------------


def parse_per_layer(text, kind=float, what: str = "value"):
    """``"0.1"`` -> 0.1; ``"fc1=0.3,fc2=0.1"`` -> {"fc1": 0.3, "fc2": 0.1}; numbers pass through."""
    if not isinstance(text, str):
        return text
    if "=" not in text:
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"{what} {text!r} is not a number nor LAYER=VALUE pairs") from None
    out = {}
    for part in text.split(","):
        name, sep, value = part.strip().rpartition("=")
        if not sep or not name:
            raise ConfigError(f"{what}: {part!r} is not LAYER=VALUE")
        try:
            out[name.strip()] = kind(value)
        except ValueError:
            raise ConfigError(f"{what}: {value!r} for layer {name!r} is not a number") from None
    return out


def _layer_rows(model) -> list[dict]:
    return [
        {
            "name": l.name,
            "shape": [int(l.shape[0]), int(l.shape[1])],
            "nnz": int(l.nnz),
            "density": float(l.density),
            "centroids": int(l.codes.max()) if l.nnz else 0,
            "weight_bits": int(l.weight_bits),
            "kind": l.kind,
            "activation": l.activation,
        }
        for l in model.layers
    ]


def compress_file(
    path: str,
    output: str | None,
    density=None,
    weight_bits=4,
    prune: bool = True,
    data: str | None = None,
    retrain: bool = False,
    ternary: bool = False,
    sensitivity: bool = False,
    target_drop: float | None = None,
    plot: str | None = None,
    trust_pickle: bool = False,
    last_activation: str = "none",
    init: str = "linear",
    seed: int = 0,
    progress: bool = False,
    calib: str | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    finetune_epochs: int | None = None,
    batch_size: int | None = None,
) -> tuple[dict, str]:
    """Read a model file, compress it (optionally retraining), write it; (summary, text) for the CLI.

    ``calib``: a .npy of representative float inputs (B x K; for an LSTM
    sequences B x T x I); their activation peaks are stored with the model
    (``CompressedModel.calibrate``, ``CompressedLSTM.calibrate``); without
    it, ``data``'s training inputs calibrate the model. ``epochs``, ``lr``,
    ``finetune_epochs``, ``batch_size``: the retraining schedule
    (``eie.train.retrain.retrain_config``; None keeps each default).
    """
    from eie.compression.report import load_data, save_plot
    from eie.compression.report import sensitivity as scan

    density = None if density is None else parse_per_layer(density, float, "--density")
    weight_bits = parse_per_layer(weight_bits, int, "--weight-bits")
    # Check settings before the (possibly slow) work.
    from eie.compression.prune import check_density
    from eie.errors import check_int

    for v in density.values() if isinstance(density, dict) else [] if density is None else [density]:
        if prune:
            check_density(v, "--density")
    for v in weight_bits.values() if isinstance(weight_bits, dict) else [weight_bits]:
        check_int("--weight-bits", v, 1, 8)
    if (retrain or ternary) and data is None:
        raise ConfigError("--retrain and --ternary need --data DATA.npz (x_train, y_train, x_test, y_test)")
    schedule = dict(epochs=epochs, lr=lr, finetune_epochs=finetune_epochs, batch_size=batch_size)
    rconfig = None
    if any(v is not None for v in schedule.values()):
        if not (retrain or ternary):
            given = ", ".join(f"--{k.replace('_', '-')}" for k, v in schedule.items() if v is not None)
            raise ConfigError(f"{given} set the retraining schedule: add --retrain (or --ternary) and --data")
        from eie.train.retrain import retrain_config

        rconfig = retrain_config(**schedule)
    if (sensitivity or target_drop is not None) and data is None:
        raise ConfigError("--sensitivity and --target-drop need --data DATA.npz")
    if target_drop is not None and density is not None:
        raise ConfigError("--target-drop searches the densities itself: drop --density (or --target-drop)")
    if target_drop is not None and (ternary or not prune):
        raise ConfigError("--target-drop searches pruning densities: it does not combine with --ternary or --no-prune")
    if density is None:
        density = 0.1
    d = load_data(data) if data else None
    net = Network(load_model(path, trust_pickle=trust_pickle, last_activation=last_activation))
    summary: dict = {"input": str(path), "network": net.kind}
    text: list[str] = []
    s = None
    if sensitivity:
        s = scan(net.layers, d.x_test, d.y_test, forward=net._layers_forward())
        summary["sensitivity"] = s.to_dict()
        text.append(s.format())
        if target_drop is not None:
            sug = s.suggest(target_drop)
            summary["sensitivity"]["suggested_densities"] = sug
            text.append(
                f"without retraining, one layer at a time, a drop of at most {target_drop:g} allows densities "
                + ",".join(f"{k}={v:g}" for k, v in sug.items())
            )
        if plot:
            summary["sensitivity"]["plot"] = save_plot(s, plot)
            text.append(f"plot written to {plot}")
        text.append("")
        if target_drop is None:
            # A scan alone writes no model: nothing was asked at any density.
            text.append(
                "no model written: the scan chooses no densities; give --target-drop to search for the smallest "
                "model within a drop (with --retrain to retrain each trial), or --density to compress"
            )
            summary["output"] = None
            return summary, "\n".join(text)
    if target_drop is not None:
        res = net.search(
            target_drop,
            d,
            weight_bits=weight_bits,
            retrain=retrain,
            retrain_config=rconfig,
            seed=seed,
            progress=progress,
            scan=s,
            init=init,
        )
        summary["search"] = res.to_dict()
        text += [res.format(), ""]
    else:
        net.compress(
            density=density,
            weight_bits=weight_bits,
            data=d,
            retrain=retrain or ternary,
            ternary=ternary,
            seed=seed,
            progress=progress,
            prune=prune,
            init=init,
            retrain_config=rconfig,
        )
    model = net.compressed
    calibration = None
    calib_from = calib
    if calib is None and d is not None:
        # The training inputs are representative inputs: they calibrate the model too.
        calib_from = f"{data} (x_train)"
    if calib is not None:
        if net.kind == "lstm":
            # Sequences (B x T x I): each gate matrix and the head calibrated on what it sees on them.
            from eie.compression.lstm import load_sequences

            x_calib = load_sequences(calib, model.spec.input_size)
        else:
            from eie.format.vectors import load_vectors

            x_calib = load_vectors(calib, model.in_features)
        calibration = model.calibrate(x_calib)
    elif d is not None:
        x_calib = np.asarray(d.x_train, dtype=np.float64)
        calibration = model.calibrate(x_calib)
    if calibration is not None:
        net._calib, net._quant = x_calib, None  # the report's integer figures use the stored calibration
    else:
        # The report's integer figures are those of the image the tools will build: the default format.
        net._calib, net._quant = None, None
    net.save(output)
    rows = _layer_rows(model)
    dense = sum(r["shape"][0] * r["shape"][1] for r in rows)
    kept = sum(r["nnz"] for r in rows)
    import warnings

    with warnings.catch_warnings():
        # An uncalibrated model's warning is in the text below and in the report's notes.
        warnings.simplefilter("ignore", UserWarning)
        rep = net.report(d.x_test, d.y_test) if d is not None else net.report()
    summary.update(
        {
            "output": str(output),
            "layers": rows,
            "kept": kept,
            "dense": dense,
            "weight_bits": max(r["weight_bits"] for r in rows),
            "retrained": net.retrained,
            "calibration": None if calibration is None else {"source": str(calib_from), **calibration},
            "report": rep.to_dict(),
        }
    )
    for r in rows:
        text.append(
            f"{r['name']}: {r['shape'][0]} x {r['shape'][1]}, kept {r['nnz']} ({r['density']:.2%}), "
            f"{r['centroids']} centroids of {r['weight_bits']} bits ({r['kind']}), {r['activation']}"
        )
    what = "compressed LSTM" if net.kind == "lstm" else "compressed model"
    text.append(f"wrote {output} ({what}): {len(rows)} layers, {kept} of {dense} weights kept")
    if calibration is not None:
        what = f"{calibration['samples']} inputs"
        if net.kind == "lstm":
            what = f"{calibration['samples']} sequences of {calibration['steps']} steps"
        text.append(
            f"calibration from {calib_from} ({what}, peak |input| {calibration['peaks'][0]:g}) stored with the model"
        )
    elif net.kind == "lstm":
        text.append(
            "no --calib or --data: the LSTM stores no calibration; its images (eie.api's deploy, quantize_lstm) will "
            "use the default activation format (and warn) unless given --calib SEQ.npy with representative sequences "
            "(B x T x I)"
        )
    else:
        text.append(
            "no --calib or --data: the model stores no calibration; generate, verify, deploy and run will use the "
            "default activation format (and warn) unless given --calib X.npy with representative inputs"
        )
    text.append("")
    if d is None:
        text.append("per-layer weight reconstruction error (relative L2); give --data for accuracy figures:")
    text.append(rep.format())
    return summary, "\n".join(text)
