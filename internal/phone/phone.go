// Package phone validates phone numbers and writes them E.164, over the
// phonenumbers library (Google's libphonenumber data). It is a leaf: the
// scope rules reach it through scope.Phones, so that they stay free of the
// library and of the protobuf runtime it brings.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Numbers is the phone validator the engine gives the import options
// (scope.Phones).
type Numbers struct{}

// Format validates a phone number and formats it E.164. A number without a
// leading + and country code is read as a number of region (ISO 3166, e.g.
// "US"); with no region, it is refused. A valid number with an extension
// is kept without it (E.164 has none), and note says so. A blank number
// gives "" and no error.
func (Numbers) Format(raw, region string) (e164, note string, err error) {
	raw, region = strings.TrimSpace(raw), strings.ToUpper(region)
	if raw == "" {
		return "", "", nil
	}
	if region == "" && !strings.HasPrefix(raw, "+") {
		return "", "", errors.New("no country code (+) and no phone_region set")
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return "", "", fmt.Errorf("not a phone number (%v)", err)
	}
	if !phonenumbers.IsValidNumber(num) {
		if region != "" && !strings.HasPrefix(raw, "+") {
			return "", "", fmt.Errorf("not a valid number for region %s", region)
		}
		return "", "", errors.New("not a valid number")
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	if ext := num.GetExtension(); ext != "" {
		note = fmt.Sprintf("extension %s dropped; imported as %s", ext, e164)
	}
	return e164, note, nil
}

// KnownRegion reports whether the library has the numbering plan of the
// region (ISO 3166, any case).
func (Numbers) KnownRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]
}
