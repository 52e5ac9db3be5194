"""Data protection in the chat: /mydata, /leave, /erase, /audit."""
