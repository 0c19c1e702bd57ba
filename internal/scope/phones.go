package scope

import (
	"slices"
	"strings"
)

// Phones validates the phone numbers of users imported with ImportPhones
// and writes them E.164. Package phone implements it over a phone-number
// library; scope stays free of that library (and of the protobuf runtime it
// brings), as a pure package should.
type Phones interface {
	// Format validates raw, a number written with its country code (+) or
	// as a number of region (ISO 3166; "" for none), and writes it E.164.
	// note says what was dropped on the way (an extension); a blank
	// number gives "".
	Format(raw, region string) (e164, note string, err error)
}

// phoneRegions are the regions (ISO 3166) whose numbering plans the phone
// library knows: the values phone_region may take. A test of package
// phone keeps the list equal to the library's.
const phoneRegions = `
	AC AD AE AF AG AI AL AM AO AR AS AT AU AW AX AZ BA BB BD BE
	BF BG BH BI BJ BL BM BN BO BQ BR BS BT BW BY BZ CA CC CD CF
	CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
	DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG
	GH GI GL GM GN GP GQ GR GT GU GW GY HK HN HR HT HU ID IE IL
	IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
	KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH
	MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF
	NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PR PS PT
	PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM
	SN SO SR SS ST SV SX SY SZ TA TC TD TG TH TJ TK TL TM TN TO
	TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF WS XK
	YE YT ZA ZM ZW`

// PhoneRegions lists the values phone_region may take, sorted.
func PhoneRegions() []string { return strings.Fields(phoneRegions) }

// KnownPhoneRegion reports whether region (any case) may be a phone_region.
func KnownPhoneRegion(region string) bool {
	_, found := slices.BinarySearch(PhoneRegions(), strings.ToUpper(region))
	return found
}
