"""make bench: time and energy per inference (estimates) beside MLPerf Tiny v1.3's measured energy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tinyexit.codegen.boards import load_board

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(bench, model: str, board: str, cycles: int, macs: int = 12_500_000) -> dict:
    b = load_board(board)
    return {"model": model, "macs": macs, "board": board, "optimize": "speed", "cycles_est": cycles,
            "time_ms_est": round(b.time_ms(cycles), 3), "energy_uj_est": round(b.energy_uj(cycles), 1),
            "power": {"supply_v": b.power.supply_v, "run_ma": b.power.run_ma, "source": b.power.source}}


def test_mlperf_energy_figures_are_v1_3_stm32l4r5(bench):
    assert bench.MLPERF_ENERGY_BOARD == "nucleo-l4r5zi"
    assert bench.MLPERF_ENERGY_UJ == {"ic": 5_496, "kws": 1_431, "vww": 3_030, "ad": 160}


def test_energy_rows_sit_beside_mlperf_with_the_ratio(bench):
    # 25.2 M cycles at 120 MHz = 210 ms; x 3.3 V x 13.2 mA = 9,147.6 uJ; 9,147.6 / 5,496 = 1.66.
    # 1.2 M cycles on the M7 board: 1.2e6 / 216e6 s x 3.3 V x 102 mA = 1,870.0 uJ, no MLPerf figure.
    lines = bench.energy_section([row(bench, "ic", "nucleo-l4r5zi", 25_200_000),
                                  row(bench, "ad", "nucleo-l4r5zi", 600_000, macs=264_192),
                                  row(bench, "ic", "nucleo-f746zg", 1_200_000)])
    text = "\n".join(lines)
    # cycles ratio: 25.2 M / (1.59 cycles/MAC x 12.5 M MACs) = 1.27; power ratio 1.6644 / 1.2679 = 1.31
    assert "| ic | nucleo-l4r5zi | int16 | 25,200,000 | 210.000 | 9,147.6 | 5,496 | 1.66 | 1.27 | 1.31 |" in text
    # 600,000 cycles = 5 ms x 43.56 mW = 217.8 uJ; 217.8 / 160 = 1.36; 600,000 / (2.18 x 264,192) = 1.04
    assert "| ad | nucleo-l4r5zi | int16 | 600,000 | 5.000 | 217.8 | 160 | 1.36 | 1.04 | 1.31 |" in text
    assert "| ic | nucleo-f746zg | int16 | 1,200,000 | 5.556 | 1,870.0 | - | - | - | - |" in text
    assert "ESTIMATES" in text and "flash wait states" in text and "peripherals" in text
    assert "- nucleo-l4r5zi: 3.3 V, 13.2 mA typical run current; DS12023" in text
