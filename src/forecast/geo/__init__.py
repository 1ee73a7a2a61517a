"""Places: the units of a country (gazetteer: codes, names, aliases, adjacency, population) and their boundaries."""
