"""The catalog's pick for a machine: the largest instruct model that fits comfortably, never a base model."""

from __future__ import annotations

from dataclasses import replace

from app.gguf.memory import MachineMemory
from app.models.catalog import (
    COMFORTABLE_SHARE,
    RECOMMENDED_QUANT,
    RUNTIME_BYTES,
    Family,
    load_catalog,
    need_bytes,
    recommend,
)

GiB = 1 << 30


def ram(available_gib: float) -> MachineMemory:
    return MachineMemory(int(available_gib * 2 * GiB), int(available_gib * GiB), None, None, None)


def test_a_small_machine_gets_a_small_model_and_a_big_one_a_bigger_one() -> None:
    small, big = recommend(ram(2), gpu_capable=False), recommend(ram(16), gpu_capable=False)
    assert small.family is not None and big.family is not None and small.variant is not None
    assert small.family.params < 1.5e9 and big.family.params > 7e9
    assert small.variant.quant == RECOMMENDED_QUANT and not small.on_gpu
    assert small.need_bytes == small.variant.size_bytes + RUNTIME_BYTES <= small.room_bytes * COMFORTABLE_SHARE
    picks = [recommend(ram(gib), gpu_capable=False).family for gib in (2, 3, 4, 6, 8, 16, 64)]
    sizes = [f.params for f in picks if f is not None]
    assert sizes == sorted(sizes) and len(sizes) == 7  # more memory never means a smaller pick


def test_the_pick_is_the_largest_that_fits_comfortably_not_the_largest_that_fits() -> None:
    catalog = load_catalog()
    pick = recommend(ram(8), gpu_capable=False)
    assert pick.family is not None
    comfortable = [f for f in catalog if f.repo and not f.base and (v := f.variant(RECOMMENDED_QUANT))
                   and need_bytes(v) <= 8 * GiB * COMFORTABLE_SHARE]
    assert pick.family.params == max(f.params for f in comfortable)
    qwen7 = next(f for f in catalog if f.id == "qwen2.5-7b-instruct")
    q4 = qwen7.variant(RECOMMENDED_QUANT)
    assert q4 is not None and need_bytes(q4) < 8 * GiB  # it would fit, but with no room to spare
    assert pick.family is not qwen7


def test_base_and_starter_models_are_never_recommended() -> None:
    catalog = load_catalog()
    starter = next(f for f in catalog if f.bundled)
    assert starter.base  # models/catalog.json marks the starter as a base model
    for gib in (0.9, 1, 1.5, 2, 4, 8, 16, 64):
        pick = recommend(ram(gib), gpu_capable=False)
        assert pick.family is None or not (pick.family.base or pick.family.bundled)
    # a base model that would be the biggest fit, downloadable and all: still not picked
    huge_base = replace(next(f for f in catalog if f.id == "qwen2.5-7b-instruct"), id="big-base", name="Big base",
                        params=9_000_000_000, base=True)
    tiny = next(f for f in catalog if f.id == "qwen2.5-0.5b-instruct")
    pick = recommend(ram(64), gpu_capable=False, families=[huge_base, tiny])
    assert pick.family is tiny


def test_nothing_fits_gives_no_pick_and_the_figures_to_say_why() -> None:
    pick = recommend(ram(0.5), gpu_capable=False)
    assert pick.family is None and pick.variant is None
    smallest = min(need_bytes(v) for f in load_catalog() if f.repo and not f.base
                   for v in f.variants if v.quant == RECOMMENDED_QUANT)
    assert pick.need_bytes == smallest and pick.room_bytes == GiB // 2
    assert pick.need_bytes > pick.room_bytes * COMFORTABLE_SHARE
    assert recommend(ram(4), gpu_capable=False, families=[]).family is None  # an empty catalog too


def test_a_model_that_fits_on_the_gpu_wins_over_a_bigger_one_in_ram() -> None:
    gpu = MachineMemory(64 * GiB, 32 * GiB, 6 * GiB, 4 * GiB, "Test GPU")
    on_gpu = recommend(gpu, gpu_capable=True)
    in_ram = recommend(gpu, gpu_capable=False)  # a build without GPU offload: the GPU does not count
    assert on_gpu.on_gpu and on_gpu.room_bytes == 4 * GiB and on_gpu.family is not None
    assert not in_ram.on_gpu and in_ram.family is not None
    assert on_gpu.family.params < in_ram.family.params
    no_vram = recommend(replace(gpu, vram_free=None), gpu_capable=True)
    assert not no_vram.on_gpu and no_vram.family == in_ram.family


def test_families_read_their_base_flag_and_variants_by_quant() -> None:
    family: Family = next(f for f in load_catalog() if f.id == "gemma-3-1b-it")
    assert not family.base and family.variant("Q8_0") is not None and family.variant("IQ1_S") is None
