"""The Pulumi program's parts: settings, names, archives, IAM documents and one ComponentResource per part of the system."""
