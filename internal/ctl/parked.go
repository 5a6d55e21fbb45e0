package ctl

import (
	"strconv"
	"strings"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

func parkedList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	if e.o.profile == "" {
		return usagef("--profile CODE is required")
	}
	resp := &harvesterv1.ListParkedItemsResponse{}
	req := &harvesterv1.ListParkedItemsRequest{Parent: resourceName("integrationProfiles", e.o.profile)}
	if err := e.list(harvesterv1.HarvesterService_ListParkedItems_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"EXTERNAL ID", "REASON CODE", "ATTEMPTS", "PARKED", "RUN", "REASON"}}
		for _, p := range resp.GetParkedItems() {
			t.rows = append(t.rows, []string{p.GetExternalId(), p.GetReasonCode(), strconv.Itoa(int(p.GetAttempts())),
				when(p.GetParkTime()), lastSegment(p.GetRun()), p.GetReason()})
		}
		return t
	})
}

// parkedRetry retries each parked request named, and stops at the first refusal: the
// ones before it are back in the retry set, as the output says.
func parkedRetry(e *env, pos []string) error {
	if len(pos) == 0 {
		return usagef("want EXTERNAL-ID..., got no IDs")
	}
	resp := &harvesterv1.ListParkedItemsResponse{}
	for _, id := range pos {
		name := id
		if !strings.Contains(id, "/") {
			if e.o.profile == "" {
				return usagef("--profile CODE is required with bare external IDs")
			}
			name = resourceName("integrationProfiles", e.o.profile) + "/parkedItems/" + id
		}
		item := &harvesterv1.ParkedItem{}
		if err := e.call(harvesterv1.HarvesterService_RetryParkedItem_FullMethodName, &harvesterv1.RetryParkedItemRequest{Name: name}, item); err != nil {
			return err
		}
		resp.ParkedItems = append(resp.ParkedItems, item)
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"RETRIED", "REASON CODE", "ATTEMPTS"}}
		for _, p := range resp.GetParkedItems() {
			t.rows = append(t.rows, []string{p.GetName(), p.GetReasonCode(), strconv.Itoa(int(p.GetAttempts()))})
		}
		return t
	})
}

func jobsList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	resp := &harvesterv1.ListScheduledJobsResponse{}
	if err := e.list(harvesterv1.HarvesterService_ListScheduledJobs_FullMethodName, &harvesterv1.ListScheduledJobsRequest{}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"PROFILE", "SYSTEM", "SCHEDULE", "NEXT RUN (LOCAL)", "LAST RUN"}}
		for _, j := range resp.GetScheduledJobs() {
			t.rows = append(t.rows, []string{lastSegment(j.GetProfile()), enumName(j.GetSystem()), j.GetSchedule(),
				j.GetNextRunLocalTime(), lastSegment(j.GetLastRun())})
		}
		return t
	})
}
