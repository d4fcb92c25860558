"""The SMTP stage of the submission pipeline: a message as its client sent it, the
X-SMTPAPI header and its filters, our Received header, the copies it is spooled as."""
