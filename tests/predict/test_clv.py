"""CLV = margin × expected spend × discounted expected purchases, over BG/NBD or Pareto/NBD."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.core.errors import ValidationFailed
from siyu.predict.bgnbd import BGNBD
from siyu.predict.clv import customer_lifetime_value, discounted_expected_purchases
from siyu.predict.data import FrequencyData
from siyu.predict.gamma_gamma import GammaGamma
from siyu.predict.pareto_nbd import ParetoNBD

BG = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
PARETO = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669)
SPEND = GammaGamma(p=6.25, q=3.74, gamma=15.44)
DATA = FrequencyData([0, 2, 7, 7], [0, 30.0, 38.0, 4.0], [38.0, 38.0, 38.0, 38.0])
MEANS = np.array([0.0, 40.0, 25.0, 25.0])


@pytest.mark.parametrize("model", [BG, PARETO], ids=["bgnbd", "pareto_nbd"])
def test_undiscounted_det_is_the_expected_purchases_over_the_horizon(model: BGNBD | ParetoNBD) -> None:
    det = discounted_expected_purchases(model, DATA, periods=12, period_length=4, discount_rate=0.0)
    assert det == pytest.approx(model.conditional_expected_purchases(48, DATA), rel=1e-12)


def test_clv_multiplies_margin_spend_and_discounted_purchases() -> None:
    det = discounted_expected_purchases(BG, DATA, periods=6, period_length=4.35, discount_rate=0.02)
    value = customer_lifetime_value(
        BG, SPEND, DATA, MEANS, periods=6, period_length=4.35, discount_rate=0.02, margin=0.3
    )
    assert value == pytest.approx(0.3 * SPEND.conditional_expected_spend(DATA.x, MEANS) * det)
    undiscounted = customer_lifetime_value(
        BG, SPEND, DATA, MEANS, periods=6, period_length=4.35, discount_rate=0.0
    )
    assert np.all(value < undiscounted)
    assert value[2] > value[3]  # same history, but the one who bought recently is worth more


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"periods": 0}, "periods"),
        ({"period_length": 0.0}, "period_length"),
        ({"discount_rate": -0.1}, "discount_rate"),
        ({"margin": 1.5}, "margin"),
    ],
)
def test_bad_options_are_refused(options: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        customer_lifetime_value(BG, SPEND, DATA, MEANS, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
