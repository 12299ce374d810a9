"""The batch kernel: one compiled pass per row from integer codes to an effect code.

Per row it does what `CompiledPolicy.cell` + `verdict` do for one request: age bucket,
local epoch, destination class, cell index, class, and the effect of (class, grant set) from
a precomputed table. Its reference is the one-request path; tests compare them row by row.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

I32 = npt.NDArray[np.int32]


@njit(cache=True, nogil=True, parallel=False)
def effects_kernel(
    j: I32, age: I32, day: I32, cat: I32, use: I32, rec: I32, country: I32, cert: I32, gset: I32,
    age_bucket: I32, ep_lut: I32, epoch_map: I32, jur_regime: I32, dest: npt.NDArray[np.int8],
    cell_cls: npt.NDArray[np.int16], table: npt.NDArray[np.int8], n_gsets: int,
    strides: I32, max_age: int, out: npt.NDArray[np.int8], cls_out: I32,
) -> None:  # pragma: no cover - compiled by numba; covered through decide_table
    B, C, U, R, D, E = strides[0], strides[1], strides[2], strides[3], strides[4], strides[5]
    for i in prange(j.shape[0]):
        ji = j[i]
        e = ep_lut[day[i]]
        a = age[i]
        b = age_bucket[a if a < max_age else max_age]
        reg = jur_regime[ji]
        c = country[i]
        d = 0
        if reg >= 0 and c >= 0:
            d = dest[reg, c, e, cert[i]]
        le = epoch_map[ji, e]
        cell = (((((ji * B + b) * C + cat[i]) * U + use[i]) * R + rec[i]) * D + d) * E + le
        k = cell_cls[cell]
        cls_out[i] = k
        out[i] = table[k * n_gsets + gset[i]]
