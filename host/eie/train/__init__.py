"""Retraining in PyTorch: pruning, centroid fine-tuning and TTQ.

This is the optional ``train`` extra (``pip install eie-pynq[train]``).
Importing ``eie.train`` does not import torch; the submodules do:

- ``eie.train.convert``: torch modules <-> ``DenseLayer`` lists and the
  ``.npz`` weights file that ``eie compress`` reads (Linear/ReLU stacks and
  LSTM gate matrices).
- ``eie.train.pruning``: magnitude masks that hold through optimiser steps,
  and iterative pruning with retraining.
- ``eie.train.sharing``: ``SharedLinear``, a layer whose weights are
  ``codebook[codes]`` with trainable centroids and fixed codes.
- ``eie.train.ttq``: ``TTQLinear``, Trained Ternary Quantization.
- ``eie.train.export``: a trained compressed network as a ``CompressedModel``,
  and its compression ratio.
- ``eie.train.loop``: the small training loop the others share.
- ``eie.train.digits``: the demo pipeline on scikit-learn's digits.
"""
