"""The batch kernel: one compiled pass per row from Arrow dictionary indices to an effect.

Per row it does what `CompiledPolicy.class_of` and the effect rule do for one request: map
each column's dictionary index to its code, age bucket, epoch, destination class, the
applicable rules as the AND of five masks, the rules whose requirement the grants meet, and
the effect by bit arithmetic. With `detail` it also writes what reasons need (jurisdiction,
rule mask, holder mode, grant set). Its reference is the one-request path; the differential
tests compare them row by row.
"""

from __future__ import annotations

from typing import Any

from numba import njit


@njit(cache=True, inline="always")
def _bit(bitmap: Any, i: int) -> int:  # pragma: no cover - compiled by numba
    """Bit `i` of an Arrow boolean bitmap (least significant bit first)."""
    return int((bitmap[i >> 3] >> (i & 7)) & 1)


@njit(cache=True, nogil=True)
def effects_kernel(
    jraw: Any, j_lut: Any, age: Any, day: Any, day0: int, ep_lut: Any,
    craw: Any, c_lut: Any, uraw: Any, u_lut: Any, rraw: Any, r_lut: Any,
    draw: Any, d_lut: Any, cert: Any, graw: Any, g_lut: Any, scc: Any, tia: Any, bits_off: Any,
    age_bucket: Any, epoch_map: Any, jur_regime: Any, dest: Any,
    subj: Any, hold: Any, catm: Any, usem: Any, recm: Any, dstm: Any,
    forbid: Any, permit: Any, obligate: Any, permit_obl: Any,
    met_table: Any, n_holds: int, n_gsets: int, max_age: int, detail: bool,
    out: Any, j_out: Any, rules_out: Any, hold_out: Any, gset_out: Any,
) -> None:  # pragma: no cover - compiled by numba; covered through decide_table
    for i in range(jraw.shape[0]):
        ji = j_lut[jraw[i]]
        e = ep_lut[day[i] - day0]
        a = age[i]
        b = age_bucket[min(a, max_age)]
        reg = jur_regime[ji]
        c = d_lut[draw[i]]
        ok = (reg >= 0) & (c >= 0)  # no transfer regime, or no destination: class 0
        d = dest[max(reg, 0), max(c, 0), e, _bit(cert, bits_off[0] + i)] * ok
        le = epoch_map[ji, e]
        m = (subj[ji, b, le] & catm[ji, c_lut[craw[i]]] & usem[ji, u_lut[uraw[i]]]
             & recm[ji, r_lut[rraw[i]]] & dstm[ji, d])
        h = hold[ji, b, le]
        g = g_lut[graw[i], _bit(scc, bits_off[1] + i) * 2 + _bit(tia, bits_off[2] + i)]
        s = met_table[(ji * n_holds + h) * n_gsets + g]
        met = m & permit[ji] & s
        # branch-free: deny (0) if an unmet forbid applies or no met permit; else 1, or 2 with obligations
        bad = ((m & forbid[ji] & ~s) != 0) | (met == 0)
        obl = ((m & obligate[ji]) | (met & permit_obl[ji])) != 0
        out[i] = (1 - bad) * (1 + obl)
        if detail:
            j_out[i] = ji
            rules_out[i] = m
            hold_out[i] = h
            gset_out[i] = g
