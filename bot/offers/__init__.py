"""The support system map: offers and their free places, finding help, and needs."""
