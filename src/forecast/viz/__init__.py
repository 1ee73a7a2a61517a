"""Figures: functions take data and return a :class:`matplotlib.figure.Figure`; maps in :mod:`.maps`."""
