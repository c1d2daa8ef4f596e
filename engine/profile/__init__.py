"""The visitor profile: its stored layout (field names, day-bucket codes, key
names, shared with the store's Lua), the site's calendar, and the flat profile
rules read. Pure."""
