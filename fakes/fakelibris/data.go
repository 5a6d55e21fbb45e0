package fakelibris

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status strings exactly as Libris sends them, in Swedish and UTF-8, including the
// exclamation mark of "Ej avbeställd!".
const (
	StatusUteliggande   = "Uteliggande"
	StatusRemitterad    = "Remitterad"
	StatusLast          = "Läst"
	StatusKanReserveras = "Kan reserveras"
	StatusReservation   = "Reservation"
	StatusReserverad    = "Reserverad"
	StatusLevererad     = "Levererad"
	StatusNegativtSvar  = "Negativt svar"
	StatusAvbestalld    = "Avbeställd"
	StatusEjAvbestalld  = "Ej avbeställd!"
	StatusMakulerad     = "Makulerad"
)

// Media types, as Libris spells them.
const (
	MediaLan   = "Lån"
	MediaKopia = "Kopia"
)

// statusCodes: only "10" (Levererad) and "6" (Negativt svar) are known Libris values;
// every other code here, "3" for Läst included, is INVENTED for the fake.
var statusCodes = map[string]string{
	StatusUteliggande:   "1",
	StatusRemitterad:    "2",
	StatusLast:          "3",
	StatusKanReserveras: "4",
	StatusReservation:   "5",
	StatusNegativtSvar:  "6",
	StatusReserverad:    "7",
	StatusAvbestalld:    "8",
	StatusEjAvbestalld:  "9",
	StatusLevererad:     "10",
	StatusMakulerad:     "11",
}

// StatusCode returns the fake's status_code for a Libris status string ("0" when unknown).
// Only Levererad="10" and Negativt svar="6" are real Libris values; the rest are invented.
func StatusCode(status string) string {
	if c, ok := statusCodes[status]; ok {
		return c
	}
	return "0"
}

// XStatus returns the fake's xstatus pair: "Oläst"/"1" (a known Libris value) while the
// lender has not read the request, otherwise "Läst"/"2" (a guess).
func XStatus(status string) (xstatus, code string) {
	if status == StatusUteliggande || status == StatusRemitterad {
		return "Oläst", "1"
	}
	return "Läst", "2"
}

// Request is one ill_requests[] item with the full Libris JSON shape, nested objects
// included: ids and codes are strings, flags bools, unset dates null.
type Request struct {
	RequestID       string `json:"request_id"`
	RequestType     string `json:"request_type"`
	LFNumber        string `json:"lf_number"`
	Status          string `json:"status"`
	StatusCode      string `json:"status_code"`
	XStatus         string `json:"xstatus"`
	XStatusCode     string `json:"xstatus_code"`
	LocalStatus     string `json:"local_status"`
	LocalStatusCode string `json:"local_status_code"`

	ArrivalDate  *string `json:"arrival_date"`
	SignDate     *string `json:"sign_date"`
	DueDate      *string `json:"due_date"`
	RenewalDate  *string `json:"renewal_date"`
	RenewalCount *string `json:"renewal_count"`
	ReturnDate   *string `json:"return_date"`
	SendbackDate *string `json:"sendback_date"`

	DeliveryType       string `json:"delivery_type"`
	DeliveryTypeCode   string `json:"delivery_type_code"`
	ProcessingTime     string `json:"processing_time"`
	ProcessingTimeCode string `json:"processing_time_code"`
	MediaType          string `json:"media_type"`
	MediaTypeCode      string `json:"media_type_code"`
	RecipientCount     string `json:"recipient_count"`

	BibID              string  `json:"bib_id"`
	ISBNISSN           string  `json:"isbn_issn"`
	Author             string  `json:"author"`
	Title              string  `json:"title"`
	PlaceOfPublication string  `json:"place_of_publication"`
	Publisher          string  `json:"publisher"`
	Year               string  `json:"year"`
	Imprint            string  `json:"imprint"`
	AuthorOfArticle    string  `json:"author_of_article"`
	TitleOfArticle     string  `json:"title_of_article"`
	VolumeDesignation  string  `json:"volume_designation"`
	Pages              *string `json:"pages"`
	JournalArticle     string  `json:"journal_article"`
	Message            string  `json:"message"`

	User         string `json:"user"`
	UserID       string `json:"user_id"`
	Operator     string `json:"operator"`
	ExternalID   string `json:"external_id"`
	LastModified string `json:"last_modified"` // Unix epoch seconds as a string

	ActiveLibrary          string           `json:"active_library"`
	RequestingLibrary      string           `json:"requesting_library"`
	ReceivingLibrary       ReceivingLibrary `json:"receiving_library"`
	LibrisEnduserRequestID string           `json:"libris_enduser_request_id"`
	EnduserID              string           `json:"enduser_id"`
	EndUser                EndUser          `json:"end_user"`
	Recipients             []Recipient      `json:"recipients"`

	// OrderDate, when non-zero, overrides the order date the server otherwise reads from
	// the lf_number's YYMMDD (for lf_numbers that do not follow the pattern). Never sent.
	OrderDate time.Time `json:"-"`
}

// ReceivingLibrary is the delivery library object.
type ReceivingLibrary struct {
	LibraryCode string `json:"library_code"`
	Name        string `json:"name"`
	Department  string `json:"department"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	Address3    string `json:"address3"`
	ZipCode     string `json:"zip_code"`
	City        string `json:"city"`
	Fax         string `json:"fax"`
	Email       string `json:"email"`
	Bibsam      bool   `json:"bibsam"`
}

// EndUser is the patron object; personal data, here invented.
type EndUser struct {
	UserID              string  `json:"user_id"`
	Approved            bool    `json:"approved"`
	ApprovalDate        *string `json:"approval_date"`
	ApprovedBy          string  `json:"approved_by"`
	HomeDelivery        bool    `json:"home_delivery"`
	InstitutionDelivery bool    `json:"institution_delivery"`
	FirstName           *string `json:"first_name"`
	LastName            *string `json:"last_name"`
	Address             *string `json:"address"`
	ZipCode             *string `json:"zip_code"`
	City                *string `json:"city"`
	Phone               *string `json:"phone"`
	Mobile              *string `json:"mobile"`
	Email               *string `json:"email"`
	Institution         string  `json:"institution"`
	InstitutionPhone    string  `json:"institution_phone"`
	LibraryCard         string  `json:"library_card"`
}

// Recipient is one lender of the rota. ResponseDate is null until it has answered.
type Recipient struct {
	LibraryID       string  `json:"library_id"`
	LibraryCode     string  `json:"library_code"`
	IsActiveLibrary bool    `json:"is_active_library"`
	Location        string  `json:"location"`
	ResponseID      string  `json:"response_id"`
	Response        string  `json:"response"`
	ResponseDate    *string `json:"response_date"`
	Reserve         bool    `json:"reserve"`
}

// Library is one /libraries entry with the keys known from Libris's clients.
type Library struct {
	LibraryID   string `json:"library_id"`
	LibraryCode string `json:"library_code"`
	Name        string `json:"name"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	Address3    string `json:"address3"`
	ZipCode     string `json:"zip_code"`
	City        string `json:"city"`
}

// clone deep-copies r so stored requests are never shared with callers or in-flight encoders.
func (r Request) clone() Request {
	c := r
	for _, p := range []**string{&c.ArrivalDate, &c.SignDate, &c.DueDate, &c.RenewalDate,
		&c.RenewalCount, &c.ReturnDate, &c.SendbackDate, &c.Pages,
		&c.EndUser.ApprovalDate, &c.EndUser.FirstName, &c.EndUser.LastName, &c.EndUser.Address,
		&c.EndUser.ZipCode, &c.EndUser.City, &c.EndUser.Phone, &c.EndUser.Mobile, &c.EndUser.Email} {
		*p = dup(*p)
	}
	// A non-nil slice so an empty rota encodes as [] rather than null.
	c.Recipients = make([]Recipient, len(r.Recipients))
	copy(c.Recipients, r.Recipients)
	for i := range c.Recipients {
		c.Recipients[i].ResponseDate = dup(c.Recipients[i].ResponseDate)
	}
	return c
}

func dup(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func ptr(s string) *string { return &s }

// GenerateOptions configures Generate. Zero values get defaults (see the fields).
type GenerateOptions struct {
	Seed     int64
	Sigel    string    // requesting library; default "Abc"
	Count    int       // number of requests; <= 0 gives none
	From, To time.Time // order dates over [From, To], calendar days in each value's location, inclusive
	Lenders  []string  // lender sigels for the rota; default Xyz, Qrs, Lkp
	Statuses []string  // picked uniformly when set; default a weighted realistic mix
}

// defaultMix is a plausible share of statuses in a month of borrowing requests (invented).
var defaultMix = []struct {
	status string
	weight int
}{
	{StatusLevererad, 38}, {StatusLast, 12}, {StatusUteliggande, 10}, {StatusNegativtSvar, 9},
	{StatusRemitterad, 5}, {StatusKanReserveras, 5}, {StatusReserverad, 3}, {StatusReservation, 2},
	{StatusAvbestalld, 7}, {StatusEjAvbestalld, 5}, {StatusMakulerad, 4},
}

// fallbackDay is used when both From and To are zero, so Generate stays deterministic.
var fallbackDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// Generate returns o.Count requests of o.Sigel, sorted by order date and lf_number. Equal
// options give identical output. Timestamps are UTC; last_modified lies between the order
// date and the end of the To day (or To itself when it has a clock time), so the data is a
// snapshot "as of" To.
func Generate(o GenerateOptions) []Request {
	if o.Count <= 0 {
		return []Request{}
	}
	if o.Sigel == "" {
		o.Sigel = "Abc"
	}
	lenders := slices.DeleteFunc(slices.Clone(o.Lenders), func(s string) bool { return s == "" })
	if len(lenders) == 0 {
		lenders = []string{"Xyz", "Qrs", "Lkp"}
	}
	from, to := o.From, o.To
	switch {
	case from.IsZero() && to.IsZero():
		from, to = fallbackDay, fallbackDay
	case from.IsZero():
		from = to
	case to.IsZero():
		to = from
	}
	if to.Before(from) {
		from, to = to, from
	}
	d0, d1 := dayOf(from), dayOf(to)
	if d1 < d0 { // same instant order, different locations: keep it simple
		d0, d1 = d1, d0
	}
	nDays := d1 - d0 + 1
	// No event lies after the To day; a To with a clock time (e.g. time.Now()) also caps at
	// that instant, so a live demo never shows a last_modified in the future.
	capAt := (d1+1)*86400 - 1
	if h, m, sec := to.Clock(); h != 0 || m != 0 || sec != 0 || to.Nanosecond() != 0 {
		capAt = min(capAt, max(to.Unix(), d1*86400))
	}

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))

	// Weekends get about a quarter of a weekday's orders, as library staff rarely order then.
	days := make([]int64, o.Count)
	for i := range days {
		var d int64
		for try := 0; try < 4; try++ {
			d = d0 + rng.Int64N(nDays)
			if wd := dayTime(d).Weekday(); (wd != time.Saturday && wd != time.Sunday) || rng.IntN(4) == 0 {
				break
			}
		}
		days[i] = d
	}
	slices.Sort(days)

	g := &generator{
		rng:      rng,
		sigel:    o.Sigel,
		lenders:  lenders,
		statuses: o.Statuses,
		cap:      capAt,
		home:     LibraryFor(o.Sigel),
		idBase:   4_000_000 + int64((fnvHash(o.Sigel)^uint64(o.Seed)*0x9e3779b97f4a7c15)%4_000_000),
	}
	g.lenderIDs = make([]string, len(lenders))
	for i, l := range lenders {
		g.lenderIDs[i] = LibraryFor(l).LibraryID
	}
	g.operators = make([]string, len(staffNames))
	for i, n := range staffNames {
		op := asciiFold(strings.ToLower(o.Sigel)) + n
		if len(op) > 8 { // Libris user names are at most 8 characters
			op = op[:8]
		}
		g.operators[i] = op
	}

	g.receiving = ReceivingLibrary{
		LibraryCode: g.home.LibraryCode, Name: g.home.Name, Department: "Fjärrlån",
		Address1: g.home.Address1, Address2: g.home.Address2, Address3: g.home.Address3,
		ZipCode: g.home.ZipCode, City: g.home.City,
		Email:  "fjarrlan@" + asciiFold(strings.ToLower(o.Sigel)) + ".example.org",
		Bibsam: strings.Contains(g.home.Name, "universitet"),
	}

	out := make([]Request, o.Count)
	seq, prefix := 0, ""
	for i, d := range days {
		if i > 0 && d == days[i-1] {
			seq++
		} else {
			seq = 1
			prefix = o.Sigel + "-" + dayTime(d).Format("060102") + "-"
		}
		g.fill(&out[i], i, d, prefix+pad4(seq))
	}
	return out
}

type generator struct {
	rng       *rand.Rand
	sigel     string
	lenders   []string
	lenderIDs []string
	statuses  []string
	operators []string
	home      Library
	receiving ReceivingLibrary
	cap       int64 // no event is later: see capAt in Generate
	idBase    int64
}

func (g *generator) pickStatus() string {
	if len(g.statuses) > 0 {
		return g.statuses[g.rng.IntN(len(g.statuses))]
	}
	n := g.rng.IntN(100)
	for _, m := range defaultMix {
		if n < m.weight {
			return m.status
		}
		n -= m.weight
	}
	return StatusLevererad
}

func (g *generator) fill(r *Request, i int, day int64, lf string) {
	rng := g.rng
	orderAt := max(min(day*86400+7*3600+rng.Int64N(10*3600), g.cap), day*86400) // office hours, roughly, in UTC

	r.RequestID = strconv.FormatInt(g.idBase+int64(i), 10)
	r.RequestType = "LF"
	r.LFNumber = lf
	r.Status = g.pickStatus()
	r.StatusCode = StatusCode(r.Status)
	r.XStatus, r.XStatusCode = XStatus(r.Status)
	r.LocalStatusCode = "0"
	r.Operator = g.operators[rng.IntN(len(g.operators))]
	r.RequestingLibrary = g.sigel

	if rng.IntN(10) == 0 {
		r.ProcessingTime, r.ProcessingTimeCode = "Brådskande", "2" // invented second value
	} else {
		r.ProcessingTime, r.ProcessingTimeCode = "Normal", "1"
	}

	year := strconv.Itoa(1950 + rng.IntN(75))
	if rng.IntN(4) == 0 {
		// A copy of a journal article.
		r.MediaType, r.MediaTypeCode = MediaKopia, "2"
		r.DeliveryType, r.DeliveryTypeCode = "E-post", "2" // invented; "Post"/"1" is confirmed
		j := journals[rng.IntN(len(journals))]
		r.Title = j.title
		r.PlaceOfPublication, r.Publisher = j.place, j.publisher
		r.ISBNISSN = issn(rng)
		r.AuthorOfArticle = g.personName()
		r.TitleOfArticle = articleTitle(rng)
		r.VolumeDesignation = year + ":" + strconv.Itoa(1+rng.IntN(6))
		first := 1 + rng.IntN(300)
		r.Pages = ptr(strconv.Itoa(first) + "-" + strconv.Itoa(first+2+rng.IntN(30)))
	} else {
		r.MediaType, r.MediaTypeCode = MediaLan, "1"
		r.DeliveryType, r.DeliveryTypeCode = "Post", "1"
		if rng.IntN(3) == 0 {
			b := classics[rng.IntN(len(classics))]
			r.Title, r.Author, r.PlaceOfPublication, r.Publisher = b.title, b.author, b.place, b.publisher
			year = strconv.Itoa(1960 + rng.IntN(64)) // a later edition of the classic
		} else {
			r.Title = bookTitle(rng)
			r.Author = g.personName()
			r.PlaceOfPublication = cities[rng.IntN(len(cities))].name
			r.Publisher = publishers[rng.IntN(len(publishers))]
		}
		if rng.IntN(10) != 0 {
			r.ISBNISSN = isbn13(rng)
		}
	}
	r.Year = year
	r.Imprint = r.PlaceOfPublication + ", " + year
	if rng.IntN(8) == 0 {
		r.BibID = "BIB" + digits(rng, 6) // made up by the borrower: record not in Libris
	} else {
		r.BibID = digits(rng, 7+rng.IntN(2))
	}
	if rng.IntN(5) == 0 {
		r.Message = messages[rng.IntN(len(messages))]
	}

	r.ReceivingLibrary = g.receiving

	g.patron(r, orderAt)
	last := g.rota(r, orderAt)

	// Delivered loans are often already received (arrival) with a due date set by the lender.
	if r.Status == StatusLevererad && rng.IntN(10) < 7 {
		arrive := last + 86400*(1+rng.Int64N(4))
		if arrive <= g.cap {
			r.ArrivalDate = ptr(time.Unix(arrive, 0).UTC().Format(time.DateOnly))
			last = arrive
			if r.MediaType == MediaLan {
				r.DueDate = ptr(time.Unix(arrive+28*86400, 0).UTC().Format(time.DateOnly))
			}
		}
	}
	r.LastModified = strconv.FormatInt(last, 10)
}

// patron fills user, user_id and end_user; end_user.approved is true for most requests.
func (g *generator) patron(r *Request, orderAt int64) {
	rng := g.rng
	si, gi := rng.IntN(len(surnames)), rng.IntN(len(givenNames))
	sur, given := surnames[si], givenNames[gi]
	r.User = sur + ", " + given
	r.UserID = "2" + digits(rng, 9)
	r.LibrisEnduserRequestID, r.EnduserID = "0", "0"
	eu := &r.EndUser
	eu.UserID = "0"
	if rng.IntN(5) < 2 { // came in as a patron web request (userrequests)
		r.LibrisEnduserRequestID = digits(rng, 6)
		r.EnduserID = digits(rng, 6)
		eu.UserID = r.EnduserID
	}
	eu.LibraryCard = r.UserID
	eu.Approved = rng.IntN(100) < 85
	if eu.Approved {
		eu.ApprovalDate = ptr(time.Unix(orderAt, 0).UTC().Format(time.DateOnly))
		eu.ApprovedBy = r.Operator
	}
	eu.HomeDelivery = rng.IntN(20) == 0
	eu.FirstName, eu.LastName = ptr(given), ptr(sur)
	if rng.IntN(5) != 0 {
		c := cities[rng.IntN(len(cities))]
		eu.Address = ptr(streets[rng.IntN(len(streets))] + " " + strconv.Itoa(1+rng.IntN(60)))
		eu.ZipCode = ptr(strconv.Itoa(c.zip+rng.IntN(9)) + " " + digits(rng, 2))
		eu.City = ptr(c.name)
	}
	if rng.IntN(3) != 0 {
		eu.Mobile = ptr("07" + strconv.Itoa(rng.IntN(10)) + "-" + digits(rng, 3) + " " + digits(rng, 2) + " " + digits(rng, 2))
	}
	if rng.IntN(4) == 0 {
		eu.Phone = ptr("0" + strconv.Itoa(10+rng.IntN(89)) + "-" + digits(rng, 6))
	}
	if rng.IntN(4) != 0 {
		eu.Email = ptr(foldedGiven[gi] + "." + foldedSurnames[si] + "@example.org")
	}
	if rng.IntN(10) == 0 {
		eu.InstitutionDelivery = true
		eu.Institution = "Institutionen för " + strings.ToLower(topics[rng.IntN(len(topics))])
		eu.InstitutionPhone = "0" + strconv.Itoa(10+rng.IntN(89)) + "-" + digits(rng, 6)
	}
}

// rota fills recipients and active_library consistently with the status and returns the
// time of the last event (the request's last_modification).
func (g *generator) rota(r *Request, orderAt int64) int64 {
	rng := g.rng
	k := 1 + rng.IntN(min(3, len(g.lenders)))
	idx := make([]int, len(g.lenders))
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ { // partial Fisher–Yates: k distinct lenders
		j := i + rng.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}

	active := 0
	switch {
	case r.Status == StatusNegativtSvar:
		active = k - 1 // every lender has said no
	case r.Status == StatusRemitterad && k > 1:
		active = 1 + rng.IntN(k-1) // forwarded past at least one lender
	case rng.IntN(10) < 3:
		active = rng.IntN(k)
	}

	at := orderAt
	step := func(maxHours int64) int64 {
		at = min(at+3600+rng.Int64N(maxHours*3600), g.cap)
		return at
	}
	date := func(t int64) *string { return ptr(time.Unix(t, 0).UTC().Format(time.DateTime)) }

	r.Recipients = make([]Recipient, k)
	for i := 0; i < k; i++ {
		li := idx[i]
		rc := &r.Recipients[i]
		rc.LibraryID, rc.LibraryCode = g.lenderIDs[li], g.lenders[li]
		if rng.IntN(2) == 0 {
			rc.Location = locations[rng.IntN(len(locations))]
		}
		switch {
		case i < active:
			no := negativeResponses[rng.IntN(len(negativeResponses))]
			rc.ResponseID, rc.Response, rc.ResponseDate = no.id, no.text, date(step(48))
		case i == active:
			rc.IsActiveLibrary = true
			switch r.Status {
			case StatusLevererad:
				rc.ResponseID, rc.Response, rc.ResponseDate = "9", "Levererad", date(step(72))
			case StatusNegativtSvar:
				no := negativeResponses[rng.IntN(len(negativeResponses))]
				if rng.IntN(2) == 0 {
					no = response{"4", "Finns ej"}
				}
				rc.ResponseID, rc.Response, rc.ResponseDate = no.id, no.text, date(step(72))
			case StatusKanReserveras, StatusReservation:
				rc.ResponseID, rc.Response, rc.ResponseDate = "1", "Utlånad", date(step(48))
				rc.Reserve = true
			case StatusReserverad:
				rc.ResponseID, rc.Response, rc.ResponseDate = "7", "Reserverad för er", date(step(48))
				rc.Reserve = true
			case StatusLast, StatusEjAvbestalld:
				step(24) // the lender opened it
			case StatusAvbestalld, StatusMakulerad:
				step(96)
			}
		}
	}
	r.ActiveLibrary = r.Recipients[active].LibraryCode
	r.RecipientCount = strconv.Itoa(k)
	if at == orderAt {
		at = min(orderAt+60+rng.Int64N(600), g.cap) // registration itself takes a moment
	}
	return at
}

func (g *generator) personName() string {
	return surnames[g.rng.IntN(len(surnames))] + ", " + givenNames[g.rng.IntN(len(givenNames))]
}

// LibraryFor returns a deterministic, plausible directory entry for a sigel; Generate uses
// the same library_id for recipients, so a directory built from it agrees with the data.
func LibraryFor(sigel string) Library {
	h := fnvHash(sigel)
	c := cities[h%uint64(len(cities))]
	kind := libraryKinds[(h/7)%uint64(len(libraryKinds))]
	return Library{
		LibraryID:   strconv.FormatUint(100+h%9900, 10),
		LibraryCode: sigel,
		Name:        sigel + " " + kind,
		Address1:    "Box " + strconv.FormatUint(1+(h/13)%900, 10),
		ZipCode:     strconv.Itoa(c.zip+int((h/17)%9)) + " " + pad2(int((h/19)%100)),
		City:        c.name,
	}
}

// dayOf is t's calendar date (in t's location) as days since 1970-01-01.
func dayOf(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func dayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

func fnvHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// pad4 zero-pads the daily sequence; past 9999 it simply grows (still unique).
func pad4(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 4 {
		s = "0000"[len(s):] + s
	}
	return s
}

// digits returns n random decimal digits, the first non-zero.
func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	if n > 0 && b[0] == '0' {
		b[0] = byte('1' + rng.IntN(9))
	}
	return string(b)
}

// isbn13 returns a Swedish-prefixed ISBN-13 with a valid check digit.
func isbn13(rng *rand.Rand) string {
	b := []byte("97891" + digits(rng, 7))
	sum := 0
	for i, c := range b {
		w := 1
		if i%2 == 1 {
			w = 3
		}
		sum += int(c-'0') * w
	}
	return string(append(b, byte('0'+(10-sum%10)%10)))
}

// issn returns an ISSN "NNNN-NNNC" with a valid check character.
func issn(rng *rand.Rand) string {
	d := digits(rng, 7)
	sum := 0
	for i := 0; i < 7; i++ {
		sum += int(d[i]-'0') * (8 - i)
	}
	check := "0123456789X"[(11-sum%11)%11]
	return d[:4] + "-" + d[4:] + string(check)
}

// Folded name lists, computed once: e-mail addresses are built for most generated patrons.
var foldedSurnames, foldedGiven = foldAll(surnames), foldAll(givenNames)

func foldAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = asciiFold(strings.ToLower(n))
	}
	return out
}

var folder = strings.NewReplacer("å", "a", "ä", "a", "ö", "o", "é", "e", "ü", "u", " ", "")

// asciiFold makes e-mail addresses and logins out of Swedish names.
func asciiFold(s string) string { return folder.Replace(s) }

func bookTitle(rng *rand.Rand) string {
	t := topics[rng.IntN(len(topics))]
	r := regions[rng.IntN(len(regions))]
	p := periods[rng.IntN(len(periods))]
	switch rng.IntN(4) {
	case 0:
		return t + " i " + r + " under " + p
	case 1:
		return t + " och samhälle : en studie av " + r + " under " + p
	case 2:
		return "Mellan stad och land : " + strings.ToLower(t) + " i " + r
	default:
		return t + " : historia, praktik och förändring"
	}
}

func articleTitle(rng *rand.Rand) string {
	a := topics[rng.IntN(len(topics))]
	b := strings.ToLower(topics[rng.IntN(len(topics))])
	switch rng.IntN(3) {
	case 0:
		return a + " och " + b + " : en översikt"
	case 1:
		return "Om " + strings.ToLower(a) + " i " + regions[rng.IntN(len(regions))]
	default:
		return a + " under " + periods[rng.IntN(len(periods))] + " – nya perspektiv"
	}
}

type response struct{ id, text string }

// negativeResponses are the Libris lender response codes that pass the request on.
var negativeResponses = []response{
	{"1", "Utlånad"}, {"2", "Förkommen"}, {"3", "Utlånas ej"}, {"5", "F n ej tillgänglig"}, {"6", "Ej anländ"}, {"8", "Övrigt"},
}

type book struct{ title, author, place, publisher string }

var classics = []book{
	{"Röda rummet : skildringar ur artist- och författarlivet", "Strindberg, August", "Stockholm", "Norstedt"},
	{"Hemsöborna", "Strindberg, August", "Stockholm", "Norstedt"},
	{"Gösta Berlings saga", "Lagerlöf, Selma", "Stockholm", "Bonnier"},
	{"Nils Holgerssons underbara resa genom Sverige", "Lagerlöf, Selma", "Stockholm", "Bonnier"},
	{"Utvandrarna", "Moberg, Vilhelm", "Stockholm", "Bonnier"},
	{"Doktor Glas", "Söderberg, Hjalmar", "Stockholm", "Bonnier"},
	{"Den allvarsamma leken", "Söderberg, Hjalmar", "Stockholm", "Bonnier"},
	{"Kallocain : roman från 2000-talet", "Boye, Karin", "Stockholm", "Bonnier"},
	{"Aniara : en revy om människan i tid och rum", "Martinson, Harry", "Stockholm", "Bonnier"},
	{"Det går an : en tavla ur livet", "Almqvist, Carl Jonas Love", "Stockholm", "Norstedt"},
	{"Pippi Långstrump", "Lindgren, Astrid", "Stockholm", "Rabén & Sjögren"},
	{"Mästaren och Margarita", "Bulgakov, Michail", "Stockholm", "Wahlström & Widstrand"},
	{"Fänrik Ståls sägner", "Runeberg, Johan Ludvig", "Helsingfors", "Schildt"},
	{"Hundra år av ensamhet", "García Márquez, Gabriel", "Stockholm", "Wahlström & Widstrand"},
}

type journal struct{ title, place, publisher string }

var journals = []journal{
	{"Historisk tidskrift", "Stockholm", "Svenska historiska föreningen"},
	{"Läkartidningen", "Stockholm", "Sveriges läkarförbund"},
	{"Svensk botanisk tidskrift", "Stockholm", "Svenska botaniska föreningen"},
	{"Sociologisk forskning", "Uppsala", "Sveriges sociologförbund"},
	{"Ekonomisk debatt", "Stockholm", "Nationalekonomiska föreningen"},
	{"Statsvetenskaplig tidskrift", "Lund", "Fahlbeckska stiftelsen"},
	{"Pedagogisk forskning i Sverige", "Göteborg", "Göteborgs universitet"},
	{"Fornvännen", "Stockholm", "Kungl. Vitterhets historie och antikvitets akademien"},
	{"Biblioteksbladet", "Stockholm", "Svensk biblioteksförening"},
	{"Svensk juristtidning", "Stockholm", "Svensk juristtidning"},
	{"Scandinavian journal of history", "Abingdon", "Taylor & Francis"},
	{"Acta paediatrica", "Oslo", "Wiley"},
}

var (
	topics = []string{"Folkbildning", "Skogsbruk", "Bibliotek", "Sjöfart", "Järnvägen", "Kyrkan", "Skolan",
		"Arbetarrörelsen", "Jordbruk", "Handel", "Folkhälsa", "Migration", "Bergsbruk", "Barnomsorg", "Kvinnorörelsen"}
	regions = []string{"Norrland", "Skåne", "Värmland", "Dalarna", "Småland", "Gotland", "Uppland",
		"Västerbotten", "Halland", "Jämtland", "Östergötland", "Bohuslän"}
	periods    = []string{"1700-talet", "1800-talet", "mellankrigstiden", "efterkrigstiden", "1900-talets början", "stormaktstiden"}
	publishers = []string{"Studentlitteratur", "Natur & Kultur", "Norstedt", "Bonnier", "Atlantis", "Gidlund",
		"Carlsson", "Liber", "Gleerup", "Makadam", "Nordiska museets förlag", "Acta Universitatis Upsaliensis"}
	surnames = []string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
		"Svensson", "Gustafsson", "Pettersson", "Jönsson", "Lindberg", "Lindqvist", "Åberg", "Öberg", "Ekström",
		"Sjögren", "Bäckström", "Håkansson", "Strömberg", "Nyström", "Bengtsson", "Hansson"}
	givenNames = []string{"Anna", "Eva", "Maria", "Karin", "Sara", "Kristina", "Lena", "Åsa", "Ingrid", "Märta",
		"Elin", "Linnéa", "Lars", "Erik", "Per", "Karl", "Johan", "Anders", "Mikael", "Björn", "Göran", "Sören", "Olof", "Nils"}
	staffNames = []string{"anna", "lars", "karin", "erik", "asa", "bjorn"}
	streets    = []string{"Storgatan", "Kungsgatan", "Drottninggatan", "Skolgatan", "Kyrkogatan", "Järnvägsgatan",
		"Södra vägen", "Ängsvägen", "Björkvägen", "Åsgatan", "Västra Långgatan"}
	locations    = []string{"Magasin", "Huvudbiblioteket", "Öppen hylla", "Referenssamlingen", "Fjärrmagasin"}
	libraryKinds = []string{"stadsbibliotek", "universitetsbibliotek", "högskolebibliotek", "länsbibliotek", "folkbibliotek"}
	messages     = []string{"Behövs till seminariet nästa vecka.", "Tack på förhand!", "Gärna som PDF.",
		"Låntagaren kan läsa på plats om boken inte får lånas hem.", "Annan upplaga går bra.", "Hämtas i receptionen."}
	cities = []struct {
		name string
		zip  int // first three digits of the postcode
	}{
		{"Stockholm", 111}, {"Göteborg", 411}, {"Malmö", 211}, {"Uppsala", 751}, {"Umeå", 901}, {"Lund", 221},
		{"Örebro", 701}, {"Linköping", 581}, {"Växjö", 351}, {"Luleå", 971}, {"Karlstad", 651}, {"Sundsvall", 851},
	}
)
