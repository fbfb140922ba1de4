"""WeCom (企业微信) server API: access tokens, external-contact calls, and callback crypto."""
