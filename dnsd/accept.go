package dnsd

import "github.com/miekg/dns"

// headerLen is the size of the fixed DNS header.
const headerLen = 12

// qrBit is the QR (response) flag in dns.Header.Bits.
const qrBit = 1 << 15

// accept screens a request's header before miekg/dns unpacks the body, and
// is the server's MsgAcceptFunc. Rejections are answered by the library
// (FORMERR or NOTIMP, question echoed) without reaching ServeDNS, so they
// are counted here.
func (h *Handler) accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&qrBit != 0 {
		h.stats.dropped.Add(1)
		return dns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		h.stats.queries.Add(1)
		h.stats.notimp.Add(1)
		return dns.MsgRejectNotImplemented
	}
	// A query carries exactly one question, no answer or authority records,
	// and in the additional section at most an OPT and a TSIG.
	if dh.Qdcount != 1 || dh.Ancount > 0 || dh.Nscount > 0 || dh.Arcount > 2 {
		h.stats.queries.Add(1)
		h.stats.formerr.Add(1)
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// invalid is the server's MsgInvalidFunc. The library calls it for runts
// (dropped: with no header there is no ID to reply to) and for accepted
// messages whose body does not unpack (answered FORMERR by the library).
func (h *Handler) invalid(m []byte, _ error) {
	if len(m) < headerLen {
		h.stats.dropped.Add(1)
		return
	}
	h.stats.queries.Add(1)
	h.stats.formerr.Add(1)
}
