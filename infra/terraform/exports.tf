# Optional: the AWS Data Exports export itself. Off by default because most organisations create
# the export once in the management account, often before this module exists.
resource "aws_bcmdataexports_export" "focus" {
  count    = var.create_export ? 1 : 0
  provider = aws.us_east_1

  export {
    name        = var.export_name
    description = "FOCUS 1.2 with AWS columns, Parquet, for focus-billing-pipeline."

    data_query {
      # Data Exports expects the column names as AWS spells them (FOCUS case, x_ prefixes).
      query_statement = "SELECT ${join(", ", local.export_column_names)} FROM FOCUS_1_2_AWS"
    }

    destination_configurations {
      s3_destination {
        s3_bucket = aws_s3_bucket.exports.bucket
        s3_prefix = var.export_prefix
        s3_region = var.region

        s3_output_configurations {
          overwrite   = var.export_overwrite
          format      = "PARQUET"
          compression = "PARQUET"
          output_type = "CUSTOM"
        }
      }
    }

    refresh_cadence {
      frequency = "SYNCHRONOUS"
    }
  }

  depends_on = [aws_s3_bucket_policy.exports]
}

locals {
  # Column names of FOCUS_1_2_AWS as the export query names them.
  export_column_names = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId",
    "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId",
    "SubAccountName", "SubAccountType", "Tags", "x_Discounts", "x_Operation", "x_ServiceCode",
  ]
}
