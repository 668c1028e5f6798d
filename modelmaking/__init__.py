"""Model-making: early-exit networks from Keras backbones, and offline data.

    zoo.py       the MLPerf Tiny backbones with their T-RecX exit heads
    augment.py   attach exit heads to a trained backbone, train, convert to int8
    datasets.py  offline data sets (images, keyword MFCCs, ECG windows, streams)

TensorFlow is an optional extra (`pip install 'tinyexit[train]'`), imported
inside the functions that train; the code generator never imports this layer.
"""
