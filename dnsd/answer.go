package dnsd

import (
	"math/rand/v2"
	"strings"

	"github.com/miekg/dns"
)

// local answers r from the records of the networks in scope, or returns nil
// when r must be forwarded. Names answer only as a single label ("web.") or
// under the domain ("web.weavego.local."; also an alias with dots,
// "api.svc.weavego.local."), so that no alias shadows an outside name.
func (h *Handler) local(r *dns.Msg, idx *index, scope []uint32) *dns.Msg {
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	domain := h.cfg.Domain
	inZone := strings.HasSuffix(name, "."+domain)
	var e *entry
	switch {
	case scope == nil: // a stranger to the table sees no names
	case inZone:
		if e = idx.fwd[name[:len(name)-len(domain)-1]].merge(scope); e == nil {
			e = idx.fwd[name[:len(name)-1]].merge(scope) // alias "db.weavego.local"
		}
	case dns.CountLabel(name) == 1:
		e = idx.fwd[name[:len(name)-1]].merge(scope)
	default:
		e = idx.rev[name].merge(scope)
	}
	switch {
	case e != nil:
		return h.fromEntry(r, e, inZone)
	case name == domain:
		return h.apex(r)
	case inZone:
		return h.negative(r, dns.RcodeNameError, true)
	}
	return nil
}

// fromEntry answers r from an existing owner name: addresses, PTRs, or
// NODATA when the name has nothing of the asked type.
func (h *Handler) fromEntry(r *dns.Msg, e *entry, inZone bool) *dns.Msg {
	q := r.Question[0]
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: h.cfg.ttlSeconds()}
	}
	var rrs []dns.RR
	anyType := q.Qtype == dns.TypeANY
	if q.Qtype == dns.TypeA || anyType {
		for _, ip := range e.v4 {
			rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
		}
	}
	if q.Qtype == dns.TypeAAAA || anyType {
		for _, ip := range e.v6 {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
		}
	}
	if q.Qtype == dns.TypePTR || anyType {
		for _, p := range e.ptrs {
			if target, ok := h.ptrTarget(p); ok {
				rrs = append(rrs, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: target})
			}
		}
	}
	if len(rrs) == 0 {
		return h.negative(r, dns.RcodeSuccess, inZone)
	}
	rand.Shuffle(len(rrs), func(i, j int) { rrs[i], rrs[j] = rrs[j], rrs[i] })
	m := h.reply(r, dns.RcodeSuccess)
	m.Answer = rrs
	return m
}

// ptrTarget is NAME.DOMAIN. for a record name, unless the name already ends
// in the domain; ok is false when the result is not a valid name.
func (h *Handler) ptrTarget(name string) (string, bool) {
	target := name + "." + h.cfg.Domain
	if strings.HasSuffix(strings.ToLower(name)+".", "."+h.cfg.Domain) {
		target = name + "."
	}
	_, ok := dns.IsDomainName(target)
	return target, ok && len(target) <= 255
}

// apex answers queries for DOMAIN. itself: its SOA, NODATA otherwise.
func (h *Handler) apex(r *dns.Msg) *dns.Msg {
	q := r.Question[0]
	if q.Qtype != dns.TypeSOA && q.Qtype != dns.TypeANY {
		return h.negative(r, dns.RcodeSuccess, true)
	}
	m := h.reply(r, dns.RcodeSuccess)
	m.Answer = []dns.RR{h.soa(h.cfg.Domain)}
	return m
}

// negative is NXDOMAIN or NODATA (rcode success, no answer) with an SOA in
// the authority section so that resolvers cache the negative answer for TTL.
// Names outside DOMAIN (single labels, reverse names) are their own apex.
func (h *Handler) negative(r *dns.Msg, rcode int, inZone bool) *dns.Msg {
	m := h.reply(r, rcode)
	zone := h.cfg.Domain
	if !inZone {
		zone = dns.CanonicalName(r.Question[0].Name)
	}
	m.Ns = []dns.RR{h.soa(zone)}
	return m
}

// reply is an authoritative reply skeleton for r.
func (h *Handler) reply(r *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.Authoritative = true
	m.RecursionAvailable = true
	return m
}

// soa is the synthetic SOA of zone; its minimum bounds negative caching.
func (h *Handler) soa(zone string) dns.RR {
	ttl := h.cfg.ttlSeconds()
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "dnsd." + h.cfg.Domain,
		Mbox:    "hostmaster." + h.cfg.Domain,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  ttl,
	}
}
