package web

// routes registers the pages of every section; each section's file holds its handlers.
func (h *Handler) routes() {
	h.profileRoutes()
	h.mappingRoutes()
	h.operationsRoutes()
}
