"""A sequence model (GRU/LSTM) on a generated task, searched by lightning-nas."""
