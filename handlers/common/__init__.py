"""What every chat adapter shares: context, access gate, callback data, dialogs, rendering."""
