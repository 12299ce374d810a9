"""Guards in the data path: the stream guard (platform events), the ad-request guard (OpenRTB 2.6)
and the consent-string decoders (TCF v2.2, GPP, US Privacy). See docs/guard.md."""

from tutela.guard.adreq import guard_bid_request
from tutela.guard.gpp import GPPString, UsNat, decode_gpp, decode_usnat
from tutela.guard.result import AdReqResult, Change
from tutela.guard.stream import GuardedBatch, StreamGuard
from tutela.guard.tcf import TCString, decode_tcf
from tutela.guard.usp import USPrivacy, decode_usp

__all__ = ["AdReqResult", "Change", "GPPString", "GuardedBatch", "StreamGuard", "TCString", "USPrivacy", "UsNat",
           "decode_gpp", "decode_tcf", "decode_usnat", "decode_usp", "guard_bid_request"]
