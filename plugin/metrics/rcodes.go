package metrics

import "github.com/miekg/dns"

// rcodeName is the mnemonic of the rcodes dnsd and upstreams send
// (NOERROR, NXDOMAIN...), OTHER for the rest: the label stays bounded.
func rcodeName(rcode int) string {
	switch rcode {
	case dns.RcodeSuccess:
		return "NOERROR"
	case dns.RcodeFormatError:
		return "FORMERR"
	case dns.RcodeServerFailure:
		return "SERVFAIL"
	case dns.RcodeNameError:
		return "NXDOMAIN"
	case dns.RcodeNotImplemented:
		return "NOTIMP"
	case dns.RcodeRefused:
		return "REFUSED"
	case dns.RcodeBadVers:
		return "BADVERS"
	}
	return "OTHER"
}
