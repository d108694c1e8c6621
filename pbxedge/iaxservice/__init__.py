"""The IAX2 service: glue between the trio transport, the sans-IO endpoint and the layers
that own calls (inbound calls, outbound dials, registrations, qualify)."""
