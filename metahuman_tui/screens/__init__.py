"""One screen per pane (chat, memory, tasks, approvals, audit, training), plus help and modals."""
