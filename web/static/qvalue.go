package static

import "strings"

// This file holds the one reader of q parameters (RFC 9110 section
// 12.4.2) the handler has, for Accept-Encoding (precompressed siblings,
// compression on the fly) and Accept (the listing's JSON).

// parseQ returns the weight the parameters of a list element (what
// follows its first ';') give it, in thousandths: 1000 without a q
// parameter. ok is false when q is not a qvalue,
//
//	qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//
// ("q=.5", "q=0.0000", "q=1.001", "q=2" are not): the caller then ignores
// the element. The first q parameter counts; its name is matched without
// regard to case, and whitespace around name, '=' and value is allowed.
func parseQ(params string) (q int, ok bool) {
	for params != "" {
		var p string
		if i := strings.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, ""
		}
		k, val, found := strings.Cut(trimOWS(p), "=")
		if !found || !strings.EqualFold(trimOWS(k), "q") {
			continue
		}
		return qvalue(trimOWS(val))
	}
	return 1000, true
}

// qvalue parses a qvalue into thousandths.
func qvalue(v string) (int, bool) {
	if v == "" || v[0] != '0' && v[0] != '1' {
		return 0, false
	}
	n := int(v[0]-'0') * 1000
	frac := v[1:]
	if frac == "" {
		return n, true
	}
	if frac[0] != '.' || len(frac) > 4 {
		return 0, false
	}
	scale := 100
	for i := 1; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' || n == 1000 && c != '0' {
			return 0, false
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n, true
}
