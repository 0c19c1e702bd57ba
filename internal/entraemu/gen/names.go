package gen

// Name data for the generator. Each name has its display form and the ASCII
// form a UPN uses, chosen as an administrator would (ü becomes ue in German
// names, Chinese names are romanized), so that non-ASCII display names and
// apostrophes in UPNs both occur.

type name struct{ display, ascii string }

type orgName struct{ name, display string }

var orgNames = []orgName{
	{"contoso", "Contoso Ltd."},
	{"fabrikam", "Fabrikam, Inc."},
	{"northwind", "Northwind Traders"},
	{"tailspin", "Tailspin Toys"},
	{"wingtip", "Wingtip Toys"},
	{"adatum", "A. Datum Corporation"},
	{"litware", "Litware, Inc."},
	{"proseware", "Proseware, Inc."},
	{"woodgrove", "Woodgrove Bank"},
	{"alpineski", "Alpine Ski House"},
}

var givenNames = []name{
	{"Zoë", "zoe"}, {"Jürgen", "juergen"}, {"José", "jose"}, {"Ólafur", "olafur"},
	{"Søren", "soren"}, {"François", "francois"}, {"Łukasz", "lukasz"}, {"Björn", "bjorn"},
	{"Siobhán", "siobhan"}, {"Chloé", "chloe"}, {"Renée", "renee"}, {"Anaïs", "anais"},
	{"Ümit", "umit"}, {"Çağla", "cagla"}, {"Léa", "lea"}, {"Inès", "ines"},
	{"Adele", "adele"}, {"Alex", "alex"}, {"Megan", "megan"}, {"Lee", "lee"},
	{"Miriam", "miriam"}, {"Nestor", "nestor"}, {"Patti", "patti"}, {"Pradeep", "pradeep"},
	{"Lidia", "lidia"}, {"Lynne", "lynne"}, {"Isaiah", "isaiah"}, {"Henrietta", "henrietta"},
	{"Grady", "grady"}, {"Diego", "diego"}, {"Johanna", "johanna"}, {"Joni", "joni"},
	{"Irvin", "irvin"}, {"Enrico", "enrico"}, {"Christie", "christie"}, {"Debra", "debra"},
	{"Allan", "allan"}, {"Brian", "brian"}, {"Ben", "ben"}, {"Emily", "emily"},
	{"Liam", "liam"}, {"Olivia", "olivia"}, {"Noah", "noah"}, {"Ava", "ava"},
	{"Mateo", "mateo"}, {"Sofia", "sofia"}, {"Aiden", "aiden"}, {"Priya", "priya"},
	{"Arjun", "arjun"}, {"Fatima", "fatima"}, {"Omar", "omar"}, {"Yusuf", "yusuf"},
	{"Aisha", "aisha"}, {"Hiroshi", "hiroshi"}, {"Yuki", "yuki"}, {"Kwame", "kwame"},
	{"Amara", "amara"}, {"Chinedu", "chinedu"}, {"Ngozi", "ngozi"}, {"Mia", "mia"},
	{"Lucas", "lucas"}, {"Hannah", "hannah"}, {"Jonas", "jonas"}, {"Mathéo", "matheo"},
	{"Sean", "sean"}, {"Conor", "conor"}, {"Aoife", "aoife"}, {"Niamh", "niamh"},
	{"Katarzyna", "katarzyna"}, {"Tomasz", "tomasz"}, {"Ingrid", "ingrid"}, {"Sven", "sven"},
	{"Elif", "elif"}, {"Mehmet", "mehmet"}, {"Ana", "ana"}, {"João", "joao"},
	{"Raúl", "raul"}, {"Sebastián", "sebastian"}, {"Noor", "noor"}, {"Layla", "layla"},
	{"David", "david"}, {"Sarah", "sarah"}, {"Michael", "michael"}, {"Laura", "laura"},
	{"Daniel", "daniel"}, {"Anna", "anna"}, {"Thomas", "thomas"}, {"Julia", "julia"},
}

var surnames = []name{
	{"O'Brien", "o'brien"}, {"D'Angelo", "d'angelo"}, {"O'Neill", "o'neill"}, {"Müller", "mueller"},
	{"García", "garcia"}, {"Núñez", "nunez"}, {"Øster", "oster"}, {"Kowalski", "kowalski"},
	{"Smith-Jones", "smith-jones"}, {"Gonçalves", "goncalves"}, {"Ólafsson", "olafsson"}, {"Björklund", "bjorklund"},
	{"Dvořák", "dvorak"}, {"Şahin", "sahin"}, {"Łęcki", "lecki"}, {"Jäger", "jaeger"},
	{"Vance", "vance"}, {"Wilber", "wilber"}, {"Bowen", "bowen"}, {"Gonzalez", "gonzalez"},
	{"Patel", "patel"}, {"Sharma", "sharma"}, {"Khan", "khan"}, {"Johnson", "johnson"},
	{"Williams", "williams"}, {"Brown", "brown"}, {"Jones", "jones"}, {"Miller", "miller"},
	{"Davis", "davis"}, {"Rodriguez", "rodriguez"}, {"Martinez", "martinez"}, {"Hernandez", "hernandez"},
	{"Lopez", "lopez"}, {"Wilson", "wilson"}, {"Anderson", "anderson"}, {"Thomas", "thomas"},
	{"Taylor", "taylor"}, {"Moore", "moore"}, {"Jackson", "jackson"}, {"Martin", "martin"},
	{"Lee", "lee"}, {"Thompson", "thompson"}, {"White", "white"}, {"Harris", "harris"},
	{"Clark", "clark"}, {"Lewis", "lewis"}, {"Robinson", "robinson"}, {"Walker", "walker"},
	{"Young", "young"}, {"Allen", "allen"}, {"King", "king"}, {"Wright", "wright"},
	{"Scott", "scott"}, {"Hill", "hill"}, {"Green", "green"}, {"Adams", "adams"},
	{"Baker", "baker"}, {"Nelson", "nelson"}, {"Carter", "carter"}, {"Mitchell", "mitchell"},
	{"Perez", "perez"}, {"Roberts", "roberts"}, {"Turner", "turner"}, {"Phillips", "phillips"},
	{"Campbell", "campbell"}, {"Parker", "parker"}, {"Evans", "evans"}, {"Edwards", "edwards"},
	{"Collins", "collins"}, {"Stewart", "stewart"}, {"Morris", "morris"}, {"Rogers", "rogers"},
	{"Reed", "reed"}, {"Cook", "cook"}, {"Morgan", "morgan"}, {"Bell", "bell"},
	{"Murphy", "murphy"}, {"Bailey", "bailey"}, {"Rivera", "rivera"}, {"Cooper", "cooper"},
	{"Schmidt", "schmidt"}, {"Fischer", "fischer"}, {"Weber", "weber"}, {"Meyer", "meyer"},
	{"Wagner", "wagner"}, {"Becker", "becker"}, {"Hoffmann", "hoffmann"}, {"Rossi", "rossi"},
	{"Russo", "russo"}, {"Ferrari", "ferrari"}, {"Bianchi", "bianchi"}, {"Dubois", "dubois"},
	{"Moreau", "moreau"}, {"Laurent", "laurent"}, {"Lefèvre", "lefevre"}, {"Yamamoto", "yamamoto"},
	{"Tanaka", "tanaka"}, {"Watanabe", "watanabe"}, {"Nakamura", "nakamura"}, {"Park", "park"},
	{"Choi", "choi"}, {"Singh", "singh"}, {"Kumar", "kumar"}, {"Gupta", "gupta"},
	{"Okafor", "okafor"}, {"Mensah", "mensah"}, {"Haddad", "haddad"}, {"Nasser", "nasser"},
	{"Cohen", "cohen"}, {"Levi", "levi"}, {"Novak", "novak"}, {"Horvat", "horvat"},
	{"Nowak", "nowak"}, {"Jensen", "jensen"}, {"Hansen", "hansen"}, {"Larsen", "larsen"},
	{"Andersson", "andersson"}, {"Johansson", "johansson"}, {"Virtanen", "virtanen"}, {"Korhonen", "korhonen"},
}

// eastName is a name written family name first, as in Chinese, Japanese,
// Korean and Vietnamese.
type eastName struct {
	display, given, surname, givenASCII, surnameASCII string
}

var eastNames = []eastName{
	{"王伟", "伟", "王", "wei", "wang"},
	{"李娜", "娜", "李", "na", "li"},
	{"张敏", "敏", "张", "min", "zhang"},
	{"刘洋", "洋", "刘", "yang", "liu"},
	{"陈静", "静", "陈", "jing", "chen"},
	{"佐藤 花子", "花子", "佐藤", "hanako", "sato"},
	{"鈴木 一郎", "一郎", "鈴木", "ichiro", "suzuki"},
	{"김민준", "민준", "김", "minjun", "kim"},
	{"이서연", "서연", "이", "seoyeon", "lee"},
	{"Nguyễn Văn An", "Văn An", "Nguyễn", "an", "nguyen"},
}

type department struct {
	name   string
	titles []string
}

var departments = []department{
	{"Engineering", []string{"Software Engineer", "Senior Software Engineer", "Principal Engineer", "Engineering Manager", "Site Reliability Engineer"}},
	{"Sales", []string{"Account Executive", "Sales Manager", "Sales Development Representative", "Regional Sales Director"}},
	{"Marketing", []string{"Marketing Specialist", "Product Marketing Manager", "Content Strategist", "Brand Manager"}},
	{"Finance", []string{"Financial Analyst", "Accountant", "Controller", "Payroll Specialist"}},
	{"Human Resources", []string{"HR Generalist", "Recruiter", "HR Business Partner", "Talent Acquisition Lead"}},
	{"Legal", []string{"Counsel", "Paralegal", "Compliance Officer"}},
	{"Operations", []string{"Operations Manager", "Logistics Coordinator", "Supply Chain Analyst"}},
	{"Customer Success", []string{"Customer Success Manager", "Onboarding Specialist", "Account Manager"}},
	{"Research & Development", []string{"Research Scientist", "Lab Technician", "R&D Manager"}},
	{"IT", []string{"IT Administrator", "Helpdesk Technician", "Systems Engineer", "Security Analyst"}},
	{"Product Management", []string{"Product Manager", "Senior Product Manager", "Product Owner"}},
	{"Support", []string{"Support Engineer", "Technical Support Specialist", "Support Team Lead"}},
	{"Facilities", []string{"Facilities Coordinator", "Office Manager"}},
	{"Procurement", []string{"Buyer", "Procurement Manager"}},
	{"Communications", []string{"Communications Lead", "Internal Communications Specialist"}},
	{"Executive", []string{"Chief Executive Officer", "Chief Financial Officer", "Chief Technology Officer", "Executive Assistant"}},
}

type location struct {
	city, country, usage, language string
	phone                          func(n int) string
}

func pad(n, width int) string {
	s := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

var locations = []location{
	{"Redmond", "United States", "US", "en-US", func(n int) string { return "+1 425 555 0" + pad(n%1000, 3) }},
	{"Seattle", "United States", "US", "en-US", func(n int) string { return "+1 206 555 0" + pad(n%1000, 3) }},
	{"Toronto", "Canada", "CA", "en-CA", func(n int) string { return "+1 416 555 0" + pad(n%1000, 3) }},
	{"Berlin", "Germany", "DE", "de-DE", func(n int) string { return "+49 30 " + pad(n%100000000, 8) }},
	{"München", "Germany", "DE", "de-DE", func(n int) string { return "+49 89 " + pad(n%10000000, 7) }},
	{"Zürich", "Switzerland", "CH", "de-CH", func(n int) string { return "+41 44 " + pad(n%1000, 3) + " " + pad(n%10000, 4) }},
	{"Paris", "France", "FR", "fr-FR", func(n int) string {
		return "+33 1 " + pad(n%100, 2) + " " + pad(n/7%100, 2) + " " + pad(n/3%100, 2) + " " + pad(n%97, 2)
	}},
	{"London", "United Kingdom", "GB", "en-GB", func(n int) string { return "+44 20 7946 0" + pad(n%1000, 3) }},
	{"Reykjavík", "Iceland", "IS", "is-IS", func(n int) string { return "+354 5" + pad(n%1000000, 6) }},
	{"Madrid", "Spain", "ES", "es-ES", func(n int) string { return "+34 91 " + pad(n%10000000, 7) }},
	{"São Paulo", "Brazil", "BR", "pt-BR", func(n int) string { return "+55 11 3" + pad(n%10000000, 7) }},
	{"Tokyo", "Japan", "JP", "ja-JP", func(n int) string { return "+81 3-" + pad(n%10000, 4) + "-" + pad(n/3%10000, 4) }},
	{"Beijing", "China", "CN", "zh-CN", func(n int) string { return "+86 10 " + pad(n%100000000, 8) }},
	{"Seoul", "South Korea", "KR", "ko-KR", func(n int) string { return "+82 2-" + pad(n%10000, 4) + "-" + pad(n/7%10000, 4) }},
	{"Bengaluru", "India", "IN", "en-IN", func(n int) string { return "+91 80 " + pad(n%100000000, 8) }},
	{"Lagos", "Nigeria", "NG", "en-NG", func(n int) string { return "+234 1 " + pad(n%10000000, 7) }},
	{"Sydney", "Australia", "AU", "en-AU", func(n int) string { return "+61 2 9" + pad(n%10000000, 7) }},
	{"Warszawa", "Poland", "PL", "pl-PL", func(n int) string { return "+48 22 " + pad(n%10000000, 7) }},
}

// InvalidPhones are values people really type into phone fields; the
// generator gives some users one.
var InvalidPhones = []string{"ext. 4412", "n/a", "+1 555", "call reception", "12", "555-CALL-NOW", "tbd"}

// nationalPhones are numbers written without a country code, valid only
// when the reader knows the region.
var nationalPhones = []string{"(425) 555-0142", "030 901820", "020 7946 0321", "06 12 34 56 78"}

var projectWords = []string{
	"Falcon", "Aurora", "Nimbus", "Atlas", "Orion", "Phoenix", "Zephyr", "Quasar", "Helios", "Borealis",
	"Sierra", "Tundra", "Cobalt", "Saffron", "Juniper", "Maple", "Granite", "Harbor", "Lighthouse", "Summit",
}
