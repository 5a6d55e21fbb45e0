package fakenetpunkt

import (
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"time"
)

// Order is one order of DBC's order base as the fake keeps it.
type Order struct {
	OrderID             string
	OrderSystem         string // netpunkt, bibliotekdk, …
	OrderType           string // inter_library_request, enduser_illrequest
	RequesterOrderState string
	ProviderOrderState  string
	ProviderAnswer      string
	CreationDate        time.Time // its UTC date is the order's creationDate
	LastModification    time.Time
	Copy                bool

	Title, Author, ISBN, ISSN, Publisher, PublicationDate, Pagination, PID string

	PickUpAgencyID, RequesterID, ResponderID string
	UserID, UserName                         string

	LatestRequesterNote, LatestProviderNote string
	ShippedServiceType                      string // loan or copy, once shipped
}

// wireOrder is Order in OpenFindOrder's element names.
type wireOrder struct {
	XMLName             xml.Name `xml:"order"`
	OrderID             string   `xml:"orderId"`
	OrderSystem         string   `xml:"orderSystem,omitempty"`
	OrderType           string   `xml:"orderType,omitempty"`
	RequesterOrderState string   `xml:"requesterOrderState,omitempty"`
	ProviderOrderState  string   `xml:"providerOrderState,omitempty"`
	ProviderAnswer      string   `xml:"providerAnswer,omitempty"`
	LastModification    string   `xml:"lastModification,omitempty"`
	CreationDate        string   `xml:"creationDate,omitempty"`
	Copy                string   `xml:"copy,omitempty"`
	Title               string   `xml:"title,omitempty"`
	Author              string   `xml:"author,omitempty"`
	ISBN                string   `xml:"isbn,omitempty"`
	ISSN                string   `xml:"issn,omitempty"`
	Publisher           string   `xml:"publisher,omitempty"`
	PublicationDate     string   `xml:"publicationDate,omitempty"`
	Pagination          string   `xml:"pagination,omitempty"`
	PID                 string   `xml:"pid,omitempty"`
	PickUpAgencyID      string   `xml:"pickUpAgencyId,omitempty"`
	RequesterID         string   `xml:"requesterId,omitempty"`
	ResponderID         string   `xml:"responderId,omitempty"`
	UserID              string   `xml:"userId,omitempty"`
	UserName            string   `xml:"userName,omitempty"`
	LatestRequesterNote string   `xml:"latestRequesterNote,omitempty"`
	LatestProviderNote  string   `xml:"latestProviderNote,omitempty"`
	ShippedServiceType  string   `xml:"shippedServiceType,omitempty"`
}

// DBC writes lastModification in Copenhagen local time followed by a literal Z, and
// creationDate as an xs:date (docs/connectors/netpunkt.md, "Time"). The fake's
// creationDate is the UTC date of Order.CreationDate, so that tests can reckon days in UTC.
const (
	stamp = "2006-01-02T15:04:05Z"
	day   = "2006-01-02"
)

var copenhagen = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Copenhagen"); err == nil {
		return l
	}
	return time.UTC
}()

func (o Order) wire() wireOrder {
	w := wireOrder{
		OrderID: o.OrderID, OrderSystem: o.OrderSystem, OrderType: o.OrderType,
		RequesterOrderState: o.RequesterOrderState, ProviderOrderState: o.ProviderOrderState, ProviderAnswer: o.ProviderAnswer,
		Title: o.Title, Author: o.Author, ISBN: o.ISBN, ISSN: o.ISSN, Publisher: o.Publisher, PublicationDate: o.PublicationDate,
		Pagination: o.Pagination, PID: o.PID,
		// DBC's data holds library numbers as bare digits.
		PickUpAgencyID: digits(o.PickUpAgencyID), RequesterID: digits(o.RequesterID), ResponderID: digits(o.ResponderID),
		UserID: o.UserID, UserName: o.UserName,
		LatestRequesterNote: o.LatestRequesterNote, LatestProviderNote: o.LatestProviderNote, ShippedServiceType: o.ShippedServiceType,
	}
	if !o.CreationDate.IsZero() {
		w.CreationDate = o.CreationDate.UTC().Format(day)
	}
	if !o.LastModification.IsZero() {
		w.LastModification = o.LastModification.In(copenhagen).Format(stamp)
	}
	if o.Copy {
		w.Copy = "true"
	}
	return w
}

// GenerateOptions shapes Generate.
type GenerateOptions struct {
	Seed     uint64
	Agency   string    // requester, DK-nnnnnn (or six digits, written as given)
	Count    int       // number of orders
	From, To time.Time // creation times are spread over [From, To]
	Lenders  []string  // responder agencies; default DK-710100, DK-715700
	Pickup   string    // pickUpAgencyId; default the requester
	Prefix   string    // orderId prefix; default "NP"
}

// states are the (requester, provider, answer) combinations generated, in a realistic mix.
var states = [][3]string{
	{"requested", "requested", ""},
	{"requested", "in_process", "will_supply"},
	{"requested", "shipped", "will_supply"},
	{"received", "shipped", "will_supply"},
	{"returned", "returned", "will_supply"},
	{"finished", "finished", "will_supply"},
	{"requested", "finished", "unfilled"},
	{"cancelled", "requested", ""},
	{"reminded", "on_hold", "hold_placed"},
}

var titles = []struct{ title, author string }{
	{"Kongens Fald", "Johannes V. Jensen"}, {"Det forsømte forår", "Hans Scherfig"},
	{"Barndommens gade", "Tove Ditlevsen"}, {"Hærværk", "Tom Kristensen"},
	{"Fru Marie Grubbe", "J.P. Jacobsen"}, {"Pelle Erobreren", "Martin Andersen Nexø"},
}

// Generate returns Count deterministic orders of o.Agency.
func Generate(o GenerateOptions) []Order {
	rng := rand.New(rand.NewPCG(o.Seed, 0x6e6574))
	lenders := o.Lenders
	if len(lenders) == 0 {
		lenders = []string{"DK-710100", "DK-715700"}
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = "NP"
	}
	pickup := o.Pickup
	if pickup == "" {
		pickup = o.Agency
	}
	span := o.To.Sub(o.From)
	out := make([]Order, o.Count)
	for i := range out {
		created := o.From
		if o.Count > 1 && span > 0 {
			created = o.From.Add(time.Duration(int64(span) / int64(o.Count-1) * int64(i)))
		}
		created = created.Truncate(time.Second)
		st := states[rng.IntN(len(states))]
		t := titles[rng.IntN(len(titles))]
		out[i] = Order{
			OrderID:             fmt.Sprintf("%s%09d", prefix, i+1),
			OrderSystem:         "netpunkt",
			OrderType:           "inter_library_request",
			RequesterOrderState: st[0], ProviderOrderState: st[1], ProviderAnswer: st[2],
			CreationDate:     created,
			LastModification: created.Add(time.Duration(rng.IntN(3600)) * time.Second),
			Copy:             rng.IntN(5) == 0,
			Title:            t.title, Author: t.author,
			ISBN:            fmt.Sprintf("97887%08d", rng.IntN(1e8)),
			Publisher:       "Gyldendal",
			PublicationDate: fmt.Sprint(1900 + rng.IntN(120)),
			PID:             fmt.Sprintf("870970-basis:%08d", rng.IntN(1e8)),
			PickUpAgencyID:  pickup,
			RequesterID:     o.Agency,
			ResponderID:     lenders[i%len(lenders)],
			UserID:          fmt.Sprintf("%010d", rng.IntN(1e9)),
			UserName:        "Låner " + fmt.Sprint(i+1),
		}
		if st[1] == "shipped" || st[1] == "returned" || st[1] == "finished" && st[2] != "unfilled" {
			out[i].ShippedServiceType = map[bool]string{false: "loan", true: "copy"}[out[i].Copy]
		}
	}
	return out
}
