package api

// ErrorInfo reasons of this service beside the runner's (PROFILE_NOT_FOUND,
// RUN_IN_PROGRESS) and the platform's INVALID_ARGUMENT. Clients match on them.
const reasonRunNotFound = "RUN_NOT_FOUND"
