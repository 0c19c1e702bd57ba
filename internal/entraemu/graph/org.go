package graph

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/login"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// The organization, its domains and its subscribed SKUs.

func (a *API) getOrganization(r *request) *wire.Response {
	org := a.dir.Org()
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, "organization"))
	o.Key("value")
	o.B = append(o.B, '[')
	var e jsonw.Object
	e.Begin(o.B)
	e.Str("id", org.ID)
	e.Raw("deletedDateTime", []byte("null"))
	e.Key("businessPhones")
	e.B = jsonw.AppendStrings(e.B, []string{"+1 425 555 0100"})
	e.Str("city", "Redmond")
	e.Str("country", "United States")
	e.Str("countryLetterCode", "US")
	e.Str("createdDateTime", jsonw.Time(org.CreatedAt))
	e.Str("displayName", org.DisplayName)
	e.Raw("onPremisesLastSyncDateTime", []byte("null"))
	e.Raw("onPremisesSyncEnabled", []byte("true"))
	e.Str("preferredLanguage", "en")
	e.Str("tenantType", "AAD")
	e.Key("verifiedDomains")
	e.B = append(e.B, '[')
	for i, d := range a.dir.Domains() {
		if i > 0 {
			e.B = append(e.B, ',')
		}
		var vd jsonw.Object
		vd.Begin(e.B)
		vd.Str("capabilities", "Email, OfficeCommunicationsOnline")
		vd.Raw("isDefault", jsonw.AppendBool(nil, d.IsDefault))
		vd.Raw("isInitial", jsonw.AppendBool(nil, d.IsInitial))
		vd.Str("name", d.Name)
		vd.Str("type", "Managed")
		e.B = vd.End()
	}
	e.B = append(e.B, ']')
	o.B = append(e.End(), ']')
	return wire.OK(200, o.End())
}

func (a *API) getDomain(r *request) *wire.Response {
	for _, d := range a.dir.Domains() {
		if strings.EqualFold(d.Name, r.param("id")) {
			var o jsonw.Object
			o.Begin(nil)
			o.Str("@odata.context", a.contextURL(r, "domains/$entity"))
			appendDomain(&o, d)
			return wire.OK(200, o.End())
		}
	}
	return a.fail(r, model.NotFound(r.param("id")))
}

func (a *API) listDomains(r *request) *wire.Response {
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, "domains"))
	o.Key("value")
	o.B = append(o.B, '[')
	for i, d := range a.dir.Domains() {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		var do jsonw.Object
		do.Begin(o.B)
		appendDomain(&do, d)
		o.B = do.End()
	}
	o.B = append(o.B, ']')
	return wire.OK(200, o.End())
}

// appendDomain writes a domain's members into o.
func appendDomain(o *jsonw.Object, d model.Domain) {
	o.Str("authenticationType", "Managed")
	o.Raw("availabilityStatus", []byte("null"))
	o.Str("id", d.Name)
	o.Raw("isAdminManaged", []byte("true"))
	o.Raw("isDefault", jsonw.AppendBool(nil, d.IsDefault))
	o.Raw("isInitial", jsonw.AppendBool(nil, d.IsInitial))
	o.Raw("isRoot", []byte("true"))
	o.Raw("isVerified", jsonw.AppendBool(nil, d.Verified))
	o.Raw("passwordNotificationWindowInDays", []byte("14"))
	o.Raw("passwordValidityPeriodInDays", []byte("2147483647"))
	o.Key("supportedServices")
	o.B = jsonw.AppendStrings(o.B, []string{"Email", "OfficeCommunicationsOnline"})
	o.Raw("state", []byte("null"))
}

// getSkus lists the subscribed SKUs, or the one /subscribedSkus/{id} names
// ({tenant id}_{sku id}), with the units consumed and their service plans.
func (a *API) getSkus(r *request) *wire.Response {
	used := map[string]int{}
	a.dir.Read(func(v *tenant.View) {
		for _, id := range tenant.Users.IDs(v) {
			for _, l := range tenant.Users.Get(v, id).Obj.AssignedLicenses {
				used[l.SkuID]++
			}
		}
	})
	org := a.dir.Org()
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, "subscribedSkus"))
	o.Key("value")
	o.B = append(o.B, '[')
	n := 0
	for _, sku := range a.dir.Skus() {
		if id := r.param("id"); id != "" && id != org.ID+"_"+sku.SkuID {
			continue
		}
		if n > 0 {
			o.B = append(o.B, ',')
		}
		n++
		o.B = appendSku(o.B, org, sku, used[sku.SkuID])
	}
	o.B = append(o.B, ']')
	return wire.OK(200, o.End())
}

func appendSku(b []byte, org tenant.Org, sku model.Sku, used int) []byte {
	var so jsonw.Object
	so.Begin(b)
	so.Str("accountName", org.DisplayName)
	so.Str("accountId", org.ID)
	so.Str("appliesTo", "User")
	so.Str("capabilityStatus", "Enabled")
	so.Raw("consumedUnits", strconv.AppendInt(nil, int64(used), 10))
	so.Str("id", org.ID+"_"+sku.SkuID)
	so.Str("skuId", sku.SkuID)
	so.Str("skuPartNumber", sku.SkuPartNumber)
	so.Key("subscriptionIds")
	so.B = jsonw.AppendStrings(so.B, []string{login.SPObjectID(sku.SkuID)})
	so.Raw("prepaidUnits", []byte(fmt.Sprintf(`{"enabled":%d,"suspended":0,"warning":0,"lockedOut":0}`, sku.PrepaidUnits)))
	so.Key("servicePlans")
	so.B = append(so.B, '[')
	for i, p := range sku.ServicePlans {
		if i > 0 {
			so.B = append(so.B, ',')
		}
		var po jsonw.Object
		po.Begin(so.B)
		po.Str("servicePlanId", p.ID)
		po.Str("servicePlanName", p.Name)
		po.Str("provisioningStatus", "Success")
		po.Str("appliesTo", "User")
		so.B = po.End()
	}
	so.B = append(so.B, ']')
	return so.End()
}
