"""The shop's own data and stores: the shop folder, orders, hand-off tickets, feedback, and the database helper."""
