"""ddsp's RnnFc: recurrent layers, then one Fc block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...gin_support import register
from ...module import Module
from ...validation import positive_int
from .initializers import child_seed, make_rng
from .layers import Fc
from .recurrent import Rnn

__all__ = ["RnnFc"]


class RnnFc(Module):
    """ddsp's ``RnnFc``: ``n_rnn`` :class:`Rnn` layers, then ``Fc(out_feat, nonlinearity)``
    (Dense -> LayerNormalization -> nonlinearity).

    **ddsp's bug, matched by default:** ddsp builds each layer as ``Rnn(rnn_feat, rnn_type,
    bidir)``, so ``bidir`` lands in ``return_sequences`` and no layer is bidirectional: with
    ``bidir=False`` (the default) each Rnn returns only its last output, ``[batch, rnn_feat]``,
    and the block maps ``[batch, n_steps, in]`` to ``[batch, out_feat]`` (so ``n_rnn > 1``
    fails, as in ddsp: the second Rnn gets no time axis); with ``bidir=True`` it returns
    sequences from a one-directional Rnn. ``ddsp_bidir_bug=False`` gives what the name says:
    sequences, and bidirectional layers when ``bidir``.

    Children ``rnn_0`` ... ``rnn_{n_rnn - 1}`` and ``fc``.

    Args:
        rnn_feat: units of each Rnn.
        out_feat: width of the Fc block.
        rnn_type: 'lstm' or 'gru'.
        nonlinearity: of the Fc block (ddsp: 'sigmoid').
        bidir: see above.
        n_rnn: number of Rnn layers.
        seed: int, None or numpy Generator for the initialisers.
        ddsp_bidir_bug: reproduce ddsp's positional bug (default True).
    """

    def __init__(self, rnn_feat: int, out_feat: int, rnn_type: str = "lstm",
                 nonlinearity: str | Callable = "sigmoid", bidir: bool = False, n_rnn: int = 1,
                 seed: Any = None, ddsp_bidir_bug: bool = True,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        n_rnn = positive_int(n_rnn, "n_rnn", "RnnFc")
        rng = make_rng(seed)
        if ddsp_bidir_bug:
            sequences, two_way = bool(bidir), False
        else:
            sequences, two_way = True, bool(bidir)
        self.rnns = [
            Rnn(
                rnn_feat,
                rnn_type,
                return_sequences=sequences,
                bidir=two_way,
                seed=child_seed(rng),
                name=f"rnn_{i}",
            )  # fmt: skip
            for i in range(n_rnn)
        ]
        self.fc = Fc(out_feat, nonlinearity, seed=child_seed(rng), name="fc")

    def children(self) -> dict[str, Module]:
        return {**{rnn.name: rnn for rnn in self.rnns}, "fc": self.fc}

    def __call__(self, x: Any) -> Any:
        for rnn in self.rnns:
            x = rnn(x)
        return self.fc(x)


# ddsp's gin name: @nn.RnnFc().
register(RnnFc, module="ddsp_ref.training.nn")
