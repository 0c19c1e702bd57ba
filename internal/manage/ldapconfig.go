package manage

import "strings"

// ParseUPNSuffixMap reads UPN suffix rewrites written FROM=TO
// (corp.local=corp.example.com), as the CLI's --upn-suffix-map and the
// console's LDAP wizard take them; a leading @ is dropped. Blank entries
// are skipped. The connector checks the names themselves when the source
// is saved.
func ParseUPNSuffixMap(entries []string) (map[string]string, error) {
	var out map[string]string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		from, to, ok := strings.Cut(e, "=")
		from, to = strings.TrimPrefix(strings.TrimSpace(from), "@"), strings.TrimPrefix(strings.TrimSpace(to), "@")
		if !ok || from == "" || to == "" {
			return nil, invalid("upn_suffix_map", "UPN suffix mapping %q: want FROM=TO, e.g. corp.local=corp.example.com", e)
		}
		if prev, dup := out[from]; dup && prev != to {
			return nil, invalid("upn_suffix_map", "UPN suffix %s is mapped twice, to %s and to %s", from, prev, to)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[from] = to
	}
	return out, nil
}
