"""The change feed (R-C5): every gain or loss of effective access, computed once when its event is projected."""
