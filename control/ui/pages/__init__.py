"""The dashboard's pages, one module each: its handlers (HANDLERS) and the view data its
template shows. control/ui/routes gathers them under /ui."""
