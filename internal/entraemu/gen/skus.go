package gen

import (
	"slices"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Published SKU and service plan ids ("Product names and service plan
// identifiers for licensing"). The first plan of each SKU is the one users
// sometimes have disabled, so that every disabled plan is one a SKU lists.
var (
	planSway        = model.ServicePlan{ID: "a23b959c-7ce8-4e57-9140-b90eb88a9e97", Name: "SWAY"}
	planExchangeE   = model.ServicePlan{ID: "efb87545-963c-4e0d-99df-69c6916d9eb0", Name: "EXCHANGE_S_ENTERPRISE"}
	planExchangeStd = model.ServicePlan{ID: "9aaf7827-d63c-4b61-89c3-182f06f82e5c", Name: "EXCHANGE_S_STANDARD"}
	planSharePointE = model.ServicePlan{ID: "5dbe027f-2339-4123-9542-606e4d348a72", Name: "SHAREPOINTENTERPRISE"}
	planTeams       = model.ServicePlan{ID: "57ff2da0-773e-42df-b2af-ffb7a2317929", Name: "TEAMS1"}
	planOfficeApps  = model.ServicePlan{ID: "43de0ff5-c92c-492b-9116-175376d08c38", Name: "OFFICESUBSCRIPTION"}
	planYammer      = model.ServicePlan{ID: "7547a3fe-08ee-4ccb-b430-5077c5041653", Name: "YAMMER_ENTERPRISE"}
	planPhone       = model.ServicePlan{ID: "4828c8ec-dc2e-4779-b502-87ac9ce28ab7", Name: "MCOEV"}
	planPlanner     = model.ServicePlan{ID: "b737dad2-2f6c-4c65-90e3-ca563267e8b9", Name: "PROJECTWORKMANAGEMENT"}
	planFoundation  = model.ServicePlan{ID: "113feb6c-3fe4-4440-bddc-54d774bf0318", Name: "EXCHANGE_S_FOUNDATION"}
	planPowerBIFree = model.ServicePlan{ID: "2049e525-b859-401b-b2a0-e0a31c4b1fe4", Name: "BI_AZURE_P0"}
	planFlowViral   = model.ServicePlan{ID: "50e68c76-46c6-4674-81f9-75456511b170", Name: "FLOW_P2_VIRAL"}
)

var defaultSkus = []model.Sku{
	{SkuID: "05e9a617-0261-4cee-bb44-138d3ef5d965", SkuPartNumber: "SPE_E3", ServicePlans: []model.ServicePlan{planSway, planExchangeE, planSharePointE, planTeams, planOfficeApps, planPlanner}},
	{SkuID: "06ebc4ee-1bb5-47dd-8120-11324bc54e06", SkuPartNumber: "SPE_E5", ServicePlans: []model.ServicePlan{planSway, planExchangeE, planSharePointE, planTeams, planOfficeApps, planPhone}},
	{SkuID: "6fd2c87f-b296-42f0-b197-1e91e994b900", SkuPartNumber: "ENTERPRISEPACK", ServicePlans: []model.ServicePlan{planYammer, planExchangeE, planSharePointE, planTeams, planOfficeApps}},
	{SkuID: "4b9405b0-7788-4568-add1-99614e613b69", SkuPartNumber: "EXCHANGESTANDARD", ServicePlans: []model.ServicePlan{planExchangeStd, planFoundation}},
	{SkuID: "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", SkuPartNumber: "POWER_BI_STANDARD", ServicePlans: []model.ServicePlan{planPowerBIFree, planFoundation}},
	{SkuID: "f30db892-07e9-47e9-837c-80727f46fd3d", SkuPartNumber: "FLOW_FREE", ServicePlans: []model.ServicePlan{planFlowViral, planFoundation}},
}

// skus are the tenant's subscriptions, each with units prepaid.
func skus(units int) []model.Sku {
	out := slices.Clone(defaultSkus)
	for i := range out {
		out[i].PrepaidUnits = units
		out[i].ServicePlans = slices.Clone(out[i].ServicePlans)
	}
	return out
}
